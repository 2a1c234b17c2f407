"""What scattering is compared with and completed by: CNNs, sparse coding, hybrids, datasets
(images, and QM9 molecules)."""
from .cnn import CifarNet, LeNet, evaluate, fit
from .datasets import (ImageArrayDataset, load_cifar10, load_cifar10_meta, load_fashion_mnist,
                       list_image_folder, load_idx, load_image_folder, load_mnist,
                       read_image)
from .filter_compare import FilterComparison, compare_filters, first_layer_filters, plot_comparison
from .natural_images import extract_patches, load_images, natural_images, natural_patches, whiten_images
from .sparse_coding import SparseCoding
from .sparse_summary import dictionary_summary, plot_dictionary
from .csc import ConvSparseCoding, CSCResult, csc_objective, csc_reconstruct
from .csc_preprocess import tikhonov_split
from .ml_csc import MultiLayerCSC
from .csc_dictionary import ConvDictionaryLearning
from .hybrid import Hybrid
from .qm9 import QM9, load_qm9, qm9_folder
from .kernel_classifier import KernelClassifier, select_kernel_params

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
