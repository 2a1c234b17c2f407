"""What scattering is compared with and completed by: CNNs, sparse coding, hybrids, datasets."""
