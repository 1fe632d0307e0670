"""The coded concepts c5desk writes into DICOM SR and SEG: standard codes where DICOM has them, private ones
(coding scheme "99C5DESK", declared in each SR's Coding Scheme Identification Sequence) where it has not.

Standard (DICOM Part 16 / SNOMED CT, as in pydicom's code dictionary):
- descriptor names: Shape (SCT 300842002), Orientation (DCM 111354), Margins (DCM 111037), Echo pattern
  (DCM 111360), Posterior acoustic features (DCM 111366); values from CID 6004/6006 (shape, margin),
  6152 (orientation), 6154 (echo pattern), 6155 (posterior features).
- the clinician's category: Assessment Category (DCM 111005); BI-RADS 0-5 as SNOMED's "Mammography
  assessment (Category n)" findings (used for breast imaging of every modality).
- the score: Probability of cancer (DCM 111047), unit "1" (UCUM, no units), value in [0, 1].
- sizes: Long axis (SCT 103339001), Short axis (SCT 103340004), Area of defined region (SCT 131184002) in
  mm and mm2 (UCUM) when the frame is calibrated; uncalibrated, every size is in UCUM "{pixels}" (a unit
  annotation, dimensionless): lengths in pixel widths, the area as a count of pixels.
Private (99C5DESK): the "heterogeneous" echo pattern (BI-RADS 5th edition; not in CID 6154), BI-RADS 4a/4b/
4c and 6, TI-RADS levels, the model's uncertainty, descriptor provenance and "no lesion outlined".
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

SCHEME = "99C5DESK"


def _private(value: str, meaning: str) -> Code:
    return Code(value, SCHEME, meaning)


FINDING_CATEGORY = codes.SCT.MorphologicallyAbnormalStructure
FINDING_TYPE = codes.SCT.Lesion
PROCEDURE = codes.SCT.DiagnosticUltrasonography
ASSESSMENT = codes.DCM.AssessmentCategory
PROBABILITY = codes.DCM.ProbabilityOfCancer
UNCERTAINTY = _private("UNCERTAINTY", "Model uncertainty (0 sure, 1 a coin toss)")
PROVENANCE = _private("PROVENANCE", "Descriptor provenance")
SUGGESTED = _private("MODEL", "Suggested by model")
CONFIRMED = _private("CLINICIAN", "Confirmed by clinician")
NO_LESION = _private("NO-LESION", "No lesion outlined")
FINDING = codes.DCM.Finding
LONG_AXIS, SHORT_AXIS, AREA = codes.SCT.LongAxis, codes.SCT.ShortAxis, codes.SCT.AreaOfDefinedRegion
NO_UNITS = Code("1", "UCUM", "no units")
MM, MM2 = Code("mm", "UCUM", "millimeter"), Code("mm2", "UCUM", "square millimeter")
PIXELS = Code("{pixels}", "UCUM", "pixels")

DESCRIPTOR_NAMES: dict[str, Code] = {
    "shape": Code("300842002", "SCT", "Shape"),
    "orientation": codes.DCM.Orientation,
    "margin": codes.DCM.Margins,
    "echo_pattern": codes.DCM.EchoPattern,
    "posterior_features": codes.DCM.PosteriorAcousticFeatures,
}
DESCRIPTOR_VALUES: dict[str, dict[str, Code]] = {
    "shape": {
        "oval": codes.SCT.OvoidShapeOval, "round": codes.SCT.RoundShape, "irregular": codes.SCT.Irregular,
    },
    "orientation": {"parallel": codes.DCM.Parallel, "not parallel": codes.DCM.NotParallel},
    "margin": {
        "circumscribed": codes.SCT.CircumscribedLesion, "indistinct": codes.SCT.IndistinctLesion,
        "angular": codes.DCM.AngularMargins, "microlobulated": codes.SCT.MicrolobulatedLesion,
        "spiculated": codes.SCT.SpiculatedLesion,
    },
    "echo_pattern": {
        "anechoic": codes.DCM.Anechoic, "hyperechoic": codes.DCM.Hyperechoic,
        "complex cystic and solid": codes.DCM.Complex, "hypoechoic": codes.DCM.Hypoechoic,
        "isoechoic": codes.DCM.Isoechoic, "heterogeneous": _private("HETEROGENEOUS", "Heterogeneous"),
    },
    "posterior_features": {
        "no posterior features": codes.DCM.NoPosteriorAcousticFeatures,
        "enhancement": codes.DCM.PosteriorEnhancement, "shadowing": codes.DCM.PosteriorShadowing,
        "combined pattern": codes.DCM.CombinedPosteriorEnhancementAndShadowing,
    },
}  # fmt: skip
_BIRADS_SCT = {  # SNOMED CT "Mammography assessment (Category n)" findings (CodeMeaning fits 64 chars)
    "0": "397138000", "1": "397140005", "2": "397141009",
    "3": "397143007", "4": "397144001", "5": "397145000",
}  # fmt: skip
_STORED_CATEGORY = re.compile(r"^(?:(BI-RADS|TI-RADS) )?([0-6][abc]?)$")


def category_code(category: str) -> Code:
    """A stored category ("BI-RADS 4a", "TI-RADS 3", or a bare "4") as a code; SNOMED where one exists."""
    match = _STORED_CATEGORY.match(category)
    if match is None:  # the store normalises categories: anything else is kept as text in a private code
        return _private(category.upper().replace(" ", "-")[:16], category)
    system, level = match.groups()
    if system == "BI-RADS" and level in _BIRADS_SCT:
        return Code(_BIRADS_SCT[level], "SCT", f"Mammography assessment (Category {level})")
    prefix = system.replace("-", "") if system else "CATEGORY"
    return _private(f"{prefix}-{level.upper()}", category if system else f"Assessment category {level}")


def coding_scheme_identification() -> Dataset:
    """The item of Coding Scheme Identification Sequence that declares the private scheme."""
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "c5desk private codes"
    item.CodingSchemeResponsibleOrganization = "c5desk"
    return item
