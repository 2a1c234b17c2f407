"""What scattering is compared with and completed by: CNNs, sparse coding, hybrids, datasets
(images, and QM9 molecules)."""

# The public names are imported at their first use (PEP 562), as in ``scatter``: the dataset
# readers (what ``scatter features`` and each of its Dask workers import) do not pay for
# scikit-learn, which the sparse-coding modules import (about a second).
_EXPORTS = {
    "CifarNet": ".cnn", "LeNet": ".cnn", "evaluate": ".cnn", "fit": ".cnn",
    "ImageArrayDataset": ".datasets", "load_cifar10": ".datasets",
    "load_cifar10_meta": ".datasets", "load_fashion_mnist": ".datasets",
    "list_image_folder": ".datasets", "load_idx": ".datasets", "load_image_folder": ".datasets",
    "load_mnist": ".datasets", "read_image": ".datasets", "FilterComparison": ".filter_compare",
    "compare_filters": ".filter_compare", "first_layer_filters": ".filter_compare",
    "plot_comparison": ".filter_compare", "extract_patches": ".natural_images",
    "load_images": ".natural_images", "natural_images": ".natural_images",
    "natural_patches": ".natural_images", "whiten_images": ".natural_images",
    "SparseCoding": ".sparse_coding", "dictionary_summary": ".sparse_summary",
    "plot_dictionary": ".sparse_summary", "ConvSparseCoding": ".csc", "CSCResult": ".csc",
    "csc_objective": ".csc", "csc_reconstruct": ".csc", "tikhonov_split": ".csc_preprocess",
    "MultiLayerCSC": ".ml_csc", "ConvDictionaryLearning": ".csc_dictionary", "Hybrid": ".hybrid",
    "QM9": ".qm9", "load_qm9": ".qm9", "qm9_folder": ".qm9",
    "KernelClassifier": ".kernel_classifier", "select_kernel_params": ".kernel_classifier",
}

# natural_images is a submodule and its function: imported now, as the eager imports did, the
# package's attribute stays the function whatever is imported later (a light module)
from .natural_images import natural_images  # noqa: E402


def __getattr__(name: str):
    import importlib

    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:                                    # a submodule, as the eager imports made them
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "CifarNet",
    "compare_filters",
    "ConvDictionaryLearning",
    "ConvSparseCoding",
    "csc_objective",
    "csc_reconstruct",
    "CSCResult",
    "dictionary_summary",
    "evaluate",
    "extract_patches",
    "FilterComparison",
    "first_layer_filters",
    "fit",
    "Hybrid",
    "ImageArrayDataset",
    "KernelClassifier",
    "LeNet",
    "list_image_folder",
    "load_cifar10",
    "load_cifar10_meta",
    "load_fashion_mnist",
    "load_idx",
    "load_image_folder",
    "load_images",
    "load_mnist",
    "load_qm9",
    "QM9",
    "qm9_folder",
    "MultiLayerCSC",
    "natural_images",
    "natural_patches",
    "plot_comparison",
    "plot_dictionary",
    "read_image",
    "select_kernel_params",
    "SparseCoding",
    "tikhonov_split",
    "whiten_images",
]
