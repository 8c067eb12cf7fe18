"""Column names every kind of data shares: the label, the split group, and the raw layout of recordings.

The bottom of the import graph: plain constants, imported by loaders, kinds, validation and stages alike.
"""

from __future__ import annotations

LABEL = "label"          # the class index after cleaning; the raw class name before (images: already an index)
GROUP = "group"          # a subject or patient id: the split keeps each group in one part; never a model input
ROW = "row"              # a row's position in the raw file, as validation reports and quarantines it

# Sensor recordings in their raw long layout: one row per sample.
RECORDING = "recording"
SUBJECT = "subject"
TIME = "t"
START = "start"          # a window's first sample within its recording (after resampling)
