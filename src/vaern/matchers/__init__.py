"""Finding watched names in text and telling what surrounds them. Pure: no I/O at match time.

    index = build_index(people, config.matching)   # once per crawl (reads wordfreq's data once)
    mentions = index.find(text)                    # each with score, confidence, variant, categories

`normalise` folds text and names; `names` is the index and matcher; `classify` gives the
categories of the sentence around a mention. Settings: `matching` in the config.
"""

from vaern.matchers.classify import Classifier, build_classifier
from vaern.matchers.names import NameIndex, build_index

__all__ = ["Classifier", "NameIndex", "build_classifier", "build_index"]
