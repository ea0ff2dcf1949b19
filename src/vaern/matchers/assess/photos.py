"""A photo beside the name: private data read from the page's structure, not from its words.

A picture that is content (crawler/photos.py: not an icon or avatar) stands beside a stretch of
the page's text: its captioned figure, its post, or its block. A person mentioned in that
stretch (written or found in context) gets the private item `photo` for it; where the
picture's alt text, title or caption names watched people, only they get it (while the page
mentions them): the picture shows them, not the others its post names. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from vaern.domain import Mention, Photo
from vaern.matchers.assess.privatedata import PrivateItem
from vaern.matchers.names import NameIndex


def photos_of_people(
    index: NameIndex, photos: Sequence[Photo], mentions: Sequence[Mention]
) -> dict[str, list[PrivateItem]]:
    """Person id -> a `photo` item for each picture beside them; `mentions` are the page text's
    (offsets into the text the photos' stretches are in)."""
    mentioned = {m.person for m in mentions}
    out: dict[str, list[PrivateItem]] = {}
    for photo in photos:
        # A picture whose alt text or caption names watched people shows them, not the others
        # its post names.
        shown = {m.person for m in index.find(photo.alt)} if photo.alt else set()
        people = shown & mentioned if shown else {m.person for m in mentions if photo.start <= m.start < photo.end}
        name = photo.url.rsplit("/", 1)[-1].split("?", 1)[0] or photo.url
        for person in sorted(people):
            items = out.setdefault(person, [])
            if all(i.start != photo.start or i.text != f"billede {name}" for i in items):
                items.append(PrivateItem("photo", photo.start, photo.end, f"billede {name}"))
    return out
