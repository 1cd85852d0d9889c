"""The six basic emotions (Ekman), in the order the datasets built here store them as labels.

The class set of Oulu-CASIA, eNTERFACE'05 and the synthetic expressions. A dataset with
other classes (CK+ with contempt, CHEAVD 2.0, ...) sets its own `CLASS_NAMES`.
"""

BASIC_EMOTIONS = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
