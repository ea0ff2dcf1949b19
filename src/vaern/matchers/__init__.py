"""Finding watched names in text and telling what surrounds them. Pure: no I/O.

    index = build_index(people, settings)      # once per crawl
    mentions = index.find(text)                # each with score, confidence, variant, categories
"""

from vaern.matchers.names import NameIndex, build_index

__all__ = ["NameIndex", "build_index"]
