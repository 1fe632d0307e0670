"""What goes into the frozen app and what stays out — read by installer/c5desk.spec and by the tests, which
run the self-test with these modules made unimportable to check the lean bundle's choice without a build.
"""

from __future__ import annotations

VARIANTS = ("lean", "gpu")

# Never shipped: test and notebook tooling, and heavy packages only a development install pulls in.
DEVELOPMENT = [
    "pytest", "_pytest", "pytestqt", "hypothesis", "deptry", "IPython", "jupyter", "notebook",
    "tkinter", "_tkinter", "scipy", "pandas", "pydicom_data", "pip", "onnx", "onnxscript",
    "onnxruntime.tools", "onnxruntime.transformers", "onnxruntime.quantization",
]  # fmt: skip

# Qt modules the app does not use. It needs QtCore, QtGui and QtWidgets, and pyqtgraph imports QtOpenGL and
# QtOpenGLWidgets when it starts (by name: see HIDDEN_IMPORTS); it treats every other module as optional.
UNUSED_QT = [
    f"PySide6.{name}"
    for name in (
        "QtNetwork", "QtQml", "QtQmlFeatures", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest",
        "QtSql", "QtTest", "QtDBus", "QtSvg", "QtSvgWidgets", "QtPrintSupport",
        "QtDesigner", "QtHelp", "QtUiTools", "QtXml", "QtConcurrent", "QtLabsStyleKit",
    )
]  # fmt: skip

# The lean bundle infers through ONNX Runtime (c5desk.inference.ort_engine): torch, what only torch needs
# (sympy, networkx, jinja2) and the training package (with matplotlib, which only its plots use) stay out.
# (cuda = NVIDIA's cuda-python, which pyqtgraph's RawImageWidget would pull in for CUDA-GL interop.)
# safetensors stays in: its numpy reader loads a bundle's out-of-scope statistics (inference.familiarity).
TORCH_STACK = [
    "torch", "torchvision", "timm", "triton", "nvidia", "cuda", "training",
    "sympy", "networkx", "jinja2", "matplotlib", "mpl_toolkits",
]  # fmt: skip

# Imported by name (importlib), so invisible to PyInstaller's analysis.
HIDDEN_IMPORTS = ["PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"]
GPU_HIDDEN_IMPORTS = ["safetensors.torch", "timm"]

# Qt plugins and files a desktop app on X11, Wayland, Windows or macOS does not load.
DROP_PARTS = (
    "/translations/",  # the UI is English-only
    "/platforms/libqvnc", "/platforms/libqeglfs", "/platforms/libqlinuxfb", "/platforms/libqminimalegl",
    "/platforms/libqvkkhrdisplay", "/egldeviceintegrations/", "/generic/", "/sqldrivers/", "/tls/",
    "/networkinformation/", "/qmltooling/",
)  # fmt: skip


def excludes(variant: str) -> list[str]:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return DEVELOPMENT + UNUSED_QT + (TORCH_STACK if variant == "lean" else [])


def keep(dest_name: str) -> bool:
    """Whether a collected file (its path inside the app) stays in the bundle."""
    dest = "/" + dest_name.replace("\\", "/")
    return not any(part in dest for part in DROP_PARTS)
