"""What scattering is compared with and completed by: CNNs, sparse coding, hybrids, datasets."""
from .cnn import CifarNet, LeNet, evaluate, fit
from .datasets import (ImageArrayDataset, load_cifar10, load_cifar10_meta, load_fashion_mnist,
                       load_idx, load_image_folder, load_mnist)
from .filter_compare import FilterComparison, compare_filters, first_layer_filters, plot_comparison
