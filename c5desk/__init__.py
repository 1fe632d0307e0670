"""c5desk: ultrasound lesion segmentation and malignancy scoring workstation."""

__version__ = "0.2.0"
