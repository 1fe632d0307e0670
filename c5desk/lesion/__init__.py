"""A lesion mask, measured, compared and drawn: validation and contours (contours), area, axes and shape in
mm or px from the scanner's calibration (measure), the one Dice overlap (overlap), and pictures of a result
without Qt (overlay).

Used by inference (measurements of every prediction), the reading state (measurements of an edited mask),
the dataset store and its exports, and batch scoring. Numpy and OpenCV only.
"""
