"""The ``scatter`` command line: ``scatter features`` turns a dataset into features on disk,
``scatter filters`` draws a filter bank.

``scatter features`` writes features, labels and their provenance (transform parameters, library
versions, a SHA-256 of the input images and labels) to HDF5 (``.h5``/``.hdf5``), ``.npz`` or a
Zarr store (``.zarr``). Every finished batch is saved atomically in a checkpoint folder
``<out>.partial/`` next to the output, so a run that is interrupted (Ctrl-C, a killed job)
resumes where it stopped when rerun with the same arguments; the output itself appears only when
complete (temporary file or folder, then renamed). Batches read only their own images (see
``scatter._sources``); with ``--workers``/``--scheduler`` they are Dask tasks.

Exit codes: 0 success (or the output is already up to date), 1 bad input or a refused overwrite,
2 command-line usage errors (argparse).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ._files import OutputLocked, atomic_output, exclusive_lock, replace_folder
from ._sources import CifarSource, FolderSource, IdxSource, Source

DATASETS = ("mnist", "fashion-mnist", "cifar10", "folder")
TRANSFORMS = ("scattering", "morlet", "gabor", "curvelet", "dwt")
BANKS = ("morlet", "gabor", "log-gabor", "curvelet", "dwt")
FORMATS = (".h5", ".hdf5", ".npz", ".zarr")
NORMALIZE = ("none", "log", "standardize")
PROGRAM = "scatter"


class CLIError(Exception):
    """A user error: printed as ``scatter: error: ...`` with exit code 1."""


# ------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``scatter`` command (one sub-parser per subcommand)."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Scattering and wavelet features of image datasets (scatter "
        "features), and drawings of filter banks (scatter filters).",
        epilog=f"datasets (--dataset): {', '.join(DATASETS)}\n"
               f"transforms (--transform): {', '.join(TRANSFORMS)}\n"
               f"outputs (--out): {', '.join(FORMATS)}; on Dask with --workers N or --scheduler "
               f"ADDRESS\nbanks (scatter filters --bank): {', '.join(BANKS)}\n"
               f"'scatter features --help' and 'scatter filters --help' list every option.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{features,filters}")

    f = sub.add_parser("features", help="compute features of a dataset and write them to disk",
                       description="Compute features of a dataset (scattering or wavelet) and "
                       "write them with labels and provenance to .h5, .npz or a Zarr store "
                       "(.zarr), in one process or on Dask workers. Interrupted runs resume from "
                       "the checkpoint folder <out>.partial/.")
    f.add_argument("--dataset", required=True, choices=DATASETS,
                   help="input format: MNIST/Fashion-MNIST IDX files, CIFAR-10 pickle batches, "
                        "or a folder with one sub-folder of images per class")
    f.add_argument("--path", required=True, type=Path, help="folder holding the dataset")
    f.add_argument("--split", default="train", choices=("train", "test"),
                   help="which split of mnist/fashion-mnist/cifar10 (default: train)")
    f.add_argument("--batches", nargs="+", metavar="FILE", default=None,
                   help="cifar10: the batch files to read (e.g. data_batch_1), instead of --split; "
                        "with --limit and --split train the data_batch files present are read "
                        "in order")
    f.add_argument("--transform", required=True, type=str.lower, metavar="{" + ",".join(TRANSFORMS) + "}",
                   help="scattering: Morlet scattering (order --max-order); morlet: first-order "
                        "Morlet scattering; gabor / curvelet: scattering fed by that bank; "
                        "dwt: discrete wavelet coefficients (--wavelet, J levels)")
    f.add_argument("--J", type=int, default=3, help="number of scales (default 3)")
    f.add_argument("--L", type=int, default=8, help="orientations of Morlet/Gabor (default 8)")
    f.add_argument("--max-order", type=int, default=2, choices=(1, 2),
                   help="scattering order for scattering/gabor/curvelet (default 2)")
    f.add_argument("--wavelet", default="db2", help="PyWavelets name for --transform dwt")
    f.add_argument("--normalize", default="none", choices=NORMALIZE,
                   help="log: log(|S| + 1e-6); standardize: per-channel zero mean, unit variance")
    f.add_argument("--out", required=True, type=Path, help="output: .h5/.hdf5, .npz or .zarr (a Zarr store; needs the dask extra)")
    f.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")
    f.add_argument("--limit", type=int, default=None, help="use only the first N images")
    f.add_argument("--batch-size", type=int, default=256, help="images per batch (default 256)")
    f.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="folder dataset: bring images to H x W (needed when sizes differ)")
    f.add_argument("--fit", default="crop", choices=("crop", "resize"),
                   help="folder dataset with --size: centre crop or bilinear resize")
    f.add_argument("--color", action="store_true", help="folder dataset: read RGB, not grey")
    f.add_argument("--overwrite", action="store_true",
                   help="replace an output or checkpoint made with different parameters")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.add_argument("--workers", type=int, default=None, metavar="N",
                   help="compute on a Dask LocalCluster of N worker processes on this machine")
    f.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="compute on the Dask cluster at ADDRESS (e.g. tcp://host:8786)")
    f.add_argument("--compression", default="none", choices=("none", "gzip", "lzf"),
                   help="compress the features: gzip (.h5 or .npz) or lzf (.h5 only); default none")
    f.set_defaults(run=run_features)

    b = sub.add_parser("filters", help="draw a filter bank to an image file",
                       description="Draw a filter bank (spatial filters and Fourier tiling).")
    b.add_argument("--bank", required=True, type=str.lower, metavar="{" + ",".join(BANKS) + "}",
                   help="filter family")
    b.add_argument("--J", type=int, default=3, help="number of scales (default 3)")
    b.add_argument("--L", type=int, default=8, help="orientations (default 8)")
    b.add_argument("--size", type=int, default=128, help="grid side in pixels (default 128)")
    b.add_argument("--wavelet", default="db2", help="PyWavelets name for --bank dwt")
    b.add_argument("--max-filters", type=int, default=16, help="spatial filters drawn")
    b.add_argument("--out", required=True, type=Path, help="image file (.png, .pdf or .svg)")
    b.set_defaults(run=run_filters)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``scatter`` command with ``argv`` (default ``sys.argv[1:]``); return the exit
    code. Usage errors exit through argparse (``SystemExit(2)``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        _refuse_flags_that_do_not_apply(args)
        return args.run(args)
    except (CLIError, FileNotFoundError, ValueError, TypeError) as err:
        print(f"{PROGRAM} {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROGRAM} {args.command}: interrupted; finished batches are kept: rerun the same "
              f"command to resume", file=sys.stderr)
        return 130


# Flags that only some choices use: (subcommand, flag, the option that decides, the values it
# applies to). A flag given where it would be ignored is refused, never silently dropped.
_APPLIES = [
    ("features", "--size", "dataset", ("folder",)),
    ("features", "--fit", "dataset", ("folder",)),
    ("features", "--color", "dataset", ("folder",)),
    ("features", "--split", "dataset", ("mnist", "fashion-mnist", "cifar10")),
    ("features", "--batches", "dataset", ("cifar10",)),
    ("features", "--L", "transform", ("scattering", "morlet", "gabor")),
    ("features", "--max-order", "transform", ("scattering", "gabor", "curvelet")),
    ("features", "--wavelet", "transform", ("dwt",)),
    ("filters", "--L", "bank", ("morlet", "gabor", "log-gabor")),
    ("filters", "--wavelet", "bank", ("dwt",)),
]


def _refuse_flags_that_do_not_apply(args) -> None:
    given = {token.split("=", 1)[0] for token in args.argv if token.startswith("--")}
    for command, flag, option, values in _APPLIES:
        value = getattr(args, option, None)
        known = {"dataset": DATASETS, "transform": TRANSFORMS, "bank": BANKS}[option]
        # (an unknown value is reported by its own check, naming the choices)
        if args.command == command and flag in given and value in known and value not in values:
            raise CLIError(f"{flag} does not apply to --{option} {value} (it is used with --{option} "
                           f"{' or '.join(values)}); remove it")


# the Python parameters of the transforms, as the command line spells them
_FLAGS = {"J": "--J", "L": "--L", "max_order": "--max-order", "wavelet": "--wavelet"}


def _as_flags(err: Exception, args) -> str:
    """An error of the library, naming command-line flags instead of Python parameters."""
    message = re.sub(r"(?<![\w*.])(max_order|wavelet|J|L)\b(?=\s*(?:=|:|<=|>=)|\s+(?:must|is|has|should))",
                     lambda m: _FLAGS[m.group(1)], str(err))
    if not any(flag in message for flag in _FLAGS.values()):
        message += (f" (from --transform {args.transform} --J {args.J} --L {args.L} "
                    f"--max-order {args.max_order}" + (f" --wavelet {args.wavelet}" if args.transform == "dwt" else "")
                    + ")")
    return message


def _version() -> str:
    from . import __version__

    return __version__


# ---------------------------------------------------------------------------------- datasets
def load_dataset(args) -> Source:
    """The dataset named by the command line as a :class:`~scatter._sources.Source` (file
    names, labels and sizes; images are read a slice at a time) whose ``info`` describes it,
    with the SHA-256 of its images and labels."""
    from .models.datasets import _find, _idx_shape, list_image_folder

    path = args.path
    if not path.exists():
        raise CLIError(f"--path {path} does not exist")
    if not path.is_dir():
        raise CLIError(f"--path {path} is not a folder (give the folder holding the dataset)")
    limit = _positive("--limit", args.limit)
    info = {"dataset": args.dataset, "path": str(path.resolve()), "limit": limit}
    if args.dataset in ("mnist", "fashion-mnist"):
        prefix = "train" if args.split == "train" else "t10k"
        files = [_find(path, [f"{prefix}-{kind}{sep}idx{dim}-ubyte{ext}" for sep in ("-", ".")
                              for ext in (".gz", "")], f"{args.split} {kind} file")
                 for kind, dim in (("images", 3), ("labels", 1))]
        # the whole files must agree, also with --limit: a test-images file beside train
        # labels must not be read as labelled data
        n_images, n_labels = _idx_shape(files[0])[0], _idx_shape(files[1])[0]
        if n_images != n_labels:
            raise CLIError(f"--path {path}: {n_images} images but {n_labels} labels ({files[0].name} "
                           f"and {files[1].name} do not belong together)")
        n = n_images if limit is None else min(n_images, limit)
        info["split"] = args.split
        source = IdxSource(files[0], files[1], n, info)
    elif args.dataset == "cifar10":
        source = _cifar10_source(path, args, limit, info)
    else:
        size = None if args.size is None else tuple(args.size)
        paths, labels, classes = list_image_folder(path)
        paths, labels = paths[:limit], labels[:limit]
        info.update(classes=classes, size=args.size, fit=args.fit if size else None,
                    color=args.color)
        source = FolderSource(path, paths, labels, "RGB" if args.color else "L", size, args.fit,
                              info)
    if source.n == 0:
        raise CLIError(f"{path}: the dataset holds no images")
    info.update(n_images=source.n, image_shape=list(source.image_shape),
                input_sha256=source.digest())
    return source


def _cifar10_source(path: Path, args, limit: int | None, info: dict) -> CifarSource:
    """CIFAR-10's batch files as a source; ``info`` records the files read.

    ``--batches`` names the files; otherwise ``--split``'s files (all five training batches
    without ``--limit``; with it, the training batches present, in order, until ``--limit``
    images are read)."""
    from .models.datasets import load_cifar10

    if args.batches:
        if "--split" in {t.split("=", 1)[0] for t in args.argv}:
            raise CLIError("give --batches or --split, not both")
        names = list(args.batches)
    elif args.split == "train" and limit is not None:
        names = [f"data_batch_{i}" for i in range(1, 6) if (path / f"data_batch_{i}").is_file()]
        if not names:
            raise CLIError(f"--path {path}: no data_batch_1 .. data_batch_5 files (cifar10 --split "
                           f"train); name the batch files with --batches")
    else:
        names = ["test_batch"] if args.split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    labels, used = [], []
    for name in names:                       # only as many files as --limit needs are read
        if limit is not None and sum(map(len, labels)) >= limit:
            break
        left = None if limit is None else limit - sum(map(len, labels))
        labels.append(load_cifar10(path, [name], max_items=left)[1])
        used.append(name)
    info.update(split=None if args.batches else args.split, batches=used)
    return CifarSource(path, used, [len(lab) for lab in labels], np.concatenate(labels), info)


def _device(name: str) -> torch.device:
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise CLIError(f"--device {name!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CLIError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return device


def _positive(name: str, value):
    if value is not None and value < 1:
        raise CLIError(f"{name} must be >= 1, got {value}")
    return value


# -------------------------------------------------------------------------------- transforms
def build_transform(name: str, shape: tuple[int, int], J: int, L: int, max_order: int,
                    wavelet: str) -> tuple[nn.Module, dict]:
    """The feature transform ``name`` for images of ``shape`` and its parameters."""
    from . import Scattering2D

    if name not in TRANSFORMS:
        raise CLIError(f"unknown transform {name!r}; choose one of {list(TRANSFORMS)}")
    params = {"transform": name, "J": J}
    if name == "dwt":
        from .filters import DWT2d

        params.update(wavelet=wavelet, mode="periodization")
        # images reach the transform as (B, C, H, W)
        from .features import FlattenCoefficients

        return FlattenCoefficients(DWT2d(wavelet, level=J, mode="periodization"), lead=2), params
    bank = None
    if name == "morlet":
        max_order = 1
    if name == "gabor":
        from .filters import gabor_2d

        frequencies = [0.25 / 2 ** j for j in range(J)]
        params.update(frequencies=frequencies, remove_dc=True)
        bank = lambda grid: gabor_2d(grid, frequencies=frequencies, L=L, remove_dc=True)  # noqa: E731
    elif name == "curvelet":
        from .filters import curvelet_2d

        params.update(scales=J + 1, angles=16)
        bank = lambda grid: curvelet_2d(grid, scales=J + 1, angles=16)  # noqa: E731
    if name != "curvelet":
        params["L"] = L
    params["max_order"] = max_order
    return Scattering2D(J, shape, L=L, max_order=max_order, bank=bank), params


# ----------------------------------------------------------------------------- file formats
def _metadata(transform: nn.Module, key: dict, source: Source) -> dict[str, np.ndarray]:
    """Arrays stored beside the features: ``channel_<name>`` for each per-channel array of the
    transform's ``meta()`` (scattering: order, j, theta, n); for folder datasets
    ``class_names`` and ``file_names`` (each image's file, relative to ``--path``)."""
    out = {}
    meta = getattr(transform, "meta", None)
    if callable(meta):
        for name, value in meta().items():
            if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
                out[f"channel_{name}"] = value
    classes = key["input"].get("classes")
    if classes:
        out["class_names"] = np.array(classes, dtype=str)
    if source.file_names is not None:
        out["file_names"] = np.array(source.file_names, dtype=str)
    return out


def _write_h5(path: str, features_blocks, n: int, labels: np.ndarray, provenance: dict,
              metadata: dict, compression: str = "none") -> None:
    import h5py

    with h5py.File(path, "w") as f:
        dset, start = None, 0
        for block in features_blocks:
            if dset is None:
                dset = f.create_dataset("features", shape=(n,) + block.shape[1:], dtype=block.dtype,
                                        chunks=(min(len(block), n),) + block.shape[1:],
                                        compression=None if compression == "none" else compression)
            dset[start:start + len(block)] = block
            start += len(block)
        f.create_dataset("labels", data=labels)
        for name, array in metadata.items():
            f.create_dataset(name, data=array.astype(h5py.string_dtype()) if array.dtype.kind == "U"
                             else array)
        f.attrs["provenance"] = json.dumps(provenance, sort_keys=True)
        # the main facts also as flat attributes, for h5dump / HDFView readers
        key = provenance["key"]
        for name, value in {**key["transform"], "dataset": key["input"]["dataset"],
                            "input_sha256": key["input"]["input_sha256"],
                            "normalize": key["normalize"],
                            "scatter_version": key["versions"]["scatter"]}.items():
            f.attrs[name] = json.dumps(value) if isinstance(value, (list, dict)) or value is None \
                else value


def _write_npz(path: str, features_blocks, n: int, labels: np.ndarray, provenance: dict,
               metadata: dict, compression: str = "none") -> None:
    """An ``.npz`` that ``np.load`` reads without pickles, streamed batch by batch."""
    fmt = np.lib.format
    method = zipfile.ZIP_DEFLATED if compression == "gzip" else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method, allowZip64=True) as zf:
        with zf.open("features.npy", "w", force_zip64=True) as fp:
            for i, block in enumerate(features_blocks):
                if i == 0:
                    fmt.write_array_header_2_0(fp, {"descr": fmt.dtype_to_descr(block.dtype),
                                                    "fortran_order": False,
                                                    "shape": (n,) + block.shape[1:]})
                fp.write(np.ascontiguousarray(block).tobytes())
        for name, array in (("labels", labels),
                            ("provenance", np.array(json.dumps(provenance, sort_keys=True))),
                            *metadata.items()):
            with zf.open(f"{name}.npy", "w") as fp:
                fmt.write_array(fp, array, allow_pickle=False)


def _create_zarr(path: Path, n: int, feature_shape: tuple, batch_size: int,
                 compression: str):
    """A Zarr store at ``path`` with empty ``features`` (float32, (n, *feature_shape)) and
    ``labels`` (int64, (n,)) arrays, chunked by ``batch_size`` images: the batch ``b`` is
    exactly the chunk ``b`` of each, so writers of different batches never share a chunk."""
    import zarr

    group = zarr.open_group(str(path), mode="w")
    codec = {"compressors": None} if compression == "none" else \
        {"compressors": [zarr.codecs.GzipCodec()]}
    group.create_array("features", shape=(n, *feature_shape), dtype="float32",
                       chunks=(min(batch_size, n), *feature_shape), **codec)
    group.create_array("labels", shape=(n,), dtype="int64", chunks=(min(batch_size, n),))
    return group


def _finish_zarr(group, provenance: dict, metadata: dict) -> None:
    """The per-channel metadata arrays beside the features; provenance and text as attributes."""
    for name, array in metadata.items():
        if array.dtype.kind == "U":         # text has no stable Zarr v3 dtype: an attribute
            group.attrs[name] = array.tolist()
        else:
            group.create_array(name, data=array)
    group.attrs["provenance"] = json.dumps(provenance, sort_keys=True)


def _write_zarr(out: Path, features_blocks, n: int, labels: np.ndarray, provenance: dict,
                metadata: dict, compression: str, batch_size: int) -> None:
    """A Zarr store written beside ``out`` from a stream of feature blocks, and put at ``out``
    when complete (by one writer: the standardised features, computed after all batches)."""
    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
    try:
        group, start = None, 0
        for block in features_blocks:
            if group is None:
                group = _create_zarr(tmp, n, block.shape[1:], batch_size, compression)
            group["features"][start:start + len(block)] = block
            start += len(block)
        group["labels"][...] = labels
        _finish_zarr(group, provenance, metadata)
        replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def read_features(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Features, labels and provenance of a file written by ``scatter features`` (HDF5, npz or
    Zarr)."""
    path = Path(path)
    if path.suffix == ".zarr":
        import zarr

        group = zarr.open_group(str(path), mode="r")
        return group["features"][...], group["labels"][...], json.loads(group.attrs["provenance"])
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return data["features"], data["labels"], json.loads(str(data["provenance"]))
    import h5py

    with h5py.File(path, "r") as f:
        return f["features"][...], f["labels"][...], json.loads(f.attrs["provenance"])


def _read_provenance(path: Path) -> dict | None:
    try:
        if path.suffix == ".zarr":
            import zarr

            return json.loads(zarr.open_group(str(path), mode="r").attrs["provenance"])
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return json.loads(str(data["provenance"]))
        import h5py

        with h5py.File(path, "r") as f:
            return json.loads(f.attrs["provenance"])
    except Exception:  # any unreadable file is "not ours": refused unless --overwrite
        return None


# --------------------------------------------------------------------------------- features
def _atomic_save(path: Path, **arrays) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as fp:
        np.savez(fp, **arrays)


def _read_part(path: Path) -> dict:
    """A finished batch of the checkpoint; a damaged one is named, with what to do."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in ("features", "labels")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        # (NumPy's own message for a file that is not an .npz is about allow_pickle)
        raise CLIError(f"checkpoint part {path} is damaged: not the .npz of features and labels "
                       f"this command writes ({type(err).__name__}); delete it to recompute that "
                       f"batch, or pass --overwrite to start over") from None


def run_features(args) -> int:
    """``scatter features``: see :func:`build_parser`."""
    import torch

    from .features import LOG_EPS

    out = args.out
    if out.suffix.lower() not in FORMATS:
        raise CLIError(f"--out must end in one of {list(FORMATS)}, got {str(out)!r}")
    if not out.parent.is_dir():
        raise CLIError(f"--out: folder {out.parent} does not exist")
    if args.compression == "lzf" and out.suffix.lower() in (".npz", ".zarr"):
        raise CLIError(f"--compression lzf is for .h5 outputs; use --compression gzip with "
                       f"{out.suffix.lower()}")
    if out.suffix.lower() == ".zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise CLIError("--out *.zarr needs zarr: pip install scatter[dask]") from None
    if args.transform not in TRANSFORMS:
        raise CLIError(f"unknown transform {args.transform!r}; choose one of {list(TRANSFORMS)}")
    batch_size = _positive("--batch-size", args.batch_size)
    source, transform, tparams = _load_inputs(args)
    # What makes two runs' features equal: compared with an existing output and checkpoint.
    key = {"input": source.info, "transform": tparams, "normalize": args.normalize,
           "log_eps": LOG_EPS, "batch_size": batch_size, "dtype": "float32",
           "scale": "uint8 / 255", "versions": {"scatter": _version(), "torch": torch.__version__,
                                                "numpy": np.__version__}}
    key = json.loads(json.dumps(key))  # as read back from a file: tuples become lists
    # one run per output at a time: a second one would "resume" the first one's checkpoint
    try:
        with exclusive_lock(out.parent / f".{out.name}.lock"):
            _PROCESS_CACHE[_transform_key(args, source.image_shape)] = transform   # built already
            try:
                return _write_features(args, out, key, source, transform, batch_size)
            finally:
                _PROCESS_CACHE.clear()      # not kept beyond this run
    except OutputLocked:
        raise CLIError(f"--out {out} is being written by another running 'scatter features'; wait "
                       f"for it to finish (or stop it), then rerun") from None


def _write_features(args, out: Path, key: dict, source: Source, transform: nn.Module,
                    batch_size: int) -> int:
    """The locked part of ``scatter features``: compare, checkpoint, compute, write.

    The checkpoint ``<out>.partial/`` holds ``state.json`` (the run's key) and the finished
    batches: for HDF5 and npz one ``batch_<b>.npz`` each (written atomically; gathered into
    the output by this process at the end); for Zarr the store itself, ``store.zarr``, whose
    chunk ``b`` batch ``b`` writes (each chunk file atomically, no two batches share one) and a
    ``batch_<b>.done`` marker created after it, renamed into place at the end."""
    from .features import channel_stats, standardize_

    if out.exists():
        old = _read_provenance(out)
        if old is not None and old.get("key") == key:
            print(f"{out}: up to date (same parameters and input); nothing to do")
            return 0
        if not args.overwrite:
            why = "different parameters or input" if old is not None else "unknown content"
            raise CLIError(f"{out} exists ({why}); pass --overwrite to replace it")

    ckpt = Path(str(out) + ".partial")
    state = ckpt / "state.json"
    if ckpt.exists():
        try:
            why = None if json.loads(state.read_text()) == key else "is from a run with different parameters"
        except (OSError, ValueError) as err:
            why = f"has an unreadable {state.name} ({type(err).__name__}: {err})"
        if why is not None:
            if not args.overwrite:
                raise CLIError(f"checkpoint {ckpt} {why}; rerun that command to finish it, or pass "
                               f"--overwrite to start over")
            shutil.rmtree(ckpt)
    if not ckpt.exists():
        ckpt.mkdir()
        with atomic_output(state) as tmp, open(tmp, "w") as fp:
            json.dump(key, fp)

    n = source.n
    n_batches = -(-n // batch_size)
    feature_shape = _feature_shape(source, transform, args)
    zarr_out = out.suffix.lower() == ".zarr"
    if zarr_out:
        store = ckpt / "store.zarr"
        if not store.exists():              # created whole (beside, then renamed) or not at all
            tmp = ckpt / "store.zarr.tmp"
            if tmp.exists():
                shutil.rmtree(tmp)
            _create_zarr(tmp, n, feature_shape, batch_size, args.compression)
            os.replace(tmp, store)
        targets = [ckpt / f"batch_{b:06d}.done" for b in range(n_batches)]
    else:
        targets = [ckpt / f"batch_{b:06d}.npz" for b in range(n_batches)]
    todo = [b for b in range(n_batches) if not targets[b].exists()]
    if len(todo) < n_batches:
        print(f"resuming from {ckpt}: {n_batches - len(todo)} of {n_batches} batches already done")
    progress = todo
    if not args.no_progress and len(todo) > 1:
        from tqdm.auto import tqdm

        # on resume the bar counts from the finished batches: finished / total
        progress = tqdm(todo, desc="features", unit="batch", total=n_batches,
                        initial=n_batches - len(todo))
    if args.workers is None and args.scheduler is None:
        for b in progress:
            _compute_part(args, source, b, batch_size, targets[b])
    else:
        _compute_parts_on_dask(args, source, todo, batch_size, targets, progress)
    print(f"computed {len(todo)} of {n_batches} batches")

    def blocks():
        if zarr_out:
            import zarr

            features = zarr.open_array(str(store / "features"), mode="r")
            for b in range(n_batches):
                yield features[b * batch_size:(b + 1) * batch_size]
        else:
            for path in targets:
                yield _read_part(path)["features"]

    provenance = {"key": key, "device": args.device, "feature_shape": list(feature_shape),
                  "command": " ".join([PROGRAM] + args.argv)}
    metadata = _metadata(transform, key, source)
    stats = channel_stats(blocks()) if args.normalize == "standardize" else None
    stream = blocks() if stats is None else (standardize_(blk, *stats) for blk in blocks())
    if zarr_out and stats is None:          # the workers' store is the output
        import zarr

        _finish_zarr(zarr.open_group(str(store), mode="r+"), provenance, metadata)
        replace_folder(store, out)
    elif zarr_out:
        _write_zarr(out, stream, n, source.labels, provenance, metadata, args.compression,
                    batch_size)
    else:
        write = _write_npz if out.suffix.lower() == ".npz" else _write_h5
        with atomic_output(out, suffix=".tmp" + out.suffix) as tmp:
            write(tmp, stream, n, source.labels, provenance, metadata, args.compression)
    shutil.rmtree(ckpt)
    print(f"wrote {out}: features {(n, *feature_shape)} float32, labels ({n},)")
    return 0


# transforms a process has built, by _transform_key: each Dask worker builds one once
_PROCESS_CACHE: dict = {}


def _transform_key(args, image_shape: tuple) -> tuple:
    return tuple(repr(getattr(args, name, None)) for name in (
        "transform", "J", "L", "max_order", "wavelet", "device")) + (tuple(image_shape),)


def _transform(args, image_shape: tuple) -> tuple[nn.Module, dict]:
    """The transform of ``--transform`` for images of ``image_shape`` on ``--device``, and its
    parameters (errors name the command-line flags)."""
    shape = tuple(_as_batch_tensor(np.zeros((1, *image_shape), np.uint8)).shape[-2:])
    try:
        transform, tparams = build_transform(args.transform, shape, args.J, args.L,
                                             args.max_order, args.wavelet)
    except (ValueError, TypeError) as err:
        raise CLIError(_as_flags(err, args)) from None
    return transform.to(_device(args.device)), tparams


def _load_inputs(args) -> tuple[Source, nn.Module, dict]:
    """The dataset (a source: read a slice at a time) and the transform on ``--device`` with
    its parameters."""
    _device(args.device)
    source = load_dataset(args)
    transform, tparams = _transform(args, source.image_shape)
    return source, transform, tparams


def _features(images: np.ndarray, transform: nn.Module, args) -> np.ndarray:
    """float32 features of uint8 images, as ``--normalize log`` asks (one batch)."""
    from .features import iter_feature_batches

    feats, _ = next(iter_feature_batches(_as_batch_tensor(images), transform, len(images),
                                         _device(args.device), log=args.normalize == "log"))
    return feats


def _feature_shape(source: Source, transform: nn.Module, args) -> tuple[int, ...]:
    """The shape of one image's features (the transform applied to the first image)."""
    import torch

    with torch.no_grad():
        x = _as_batch_tensor(source.read(0, 1)).to(_device(args.device))
        return tuple(transform(x).shape[1:])


def _compute_part(args, source: Source, b: int, batch_size: int, target: Path) -> int:
    """Batch ``b`` of the features, read from the dataset's files and saved.

    Runs in the command's process or on a Dask worker, the same code either way (the same
    numbers): only the batch's images are read, and a process builds the transform once, for
    all the batches it computes. ``target`` is the checkpoint part ``batch_<b>.npz`` (written
    atomically) or, for Zarr, the marker ``batch_<b>.done`` created once the batch's chunks are
    in the store beside it (each chunk file is written atomically by Zarr)."""
    key = _transform_key(args, source.image_shape)
    if key not in _PROCESS_CACHE:
        _PROCESS_CACHE[key] = _transform(args, source.image_shape)[0]
    threads = getattr(args, "worker_threads", None)
    if threads is not None:                 # a worker of a LocalCluster: its share of the cores
        import torch

        torch.set_num_threads(threads)
    start, stop = b * batch_size, min((b + 1) * batch_size, source.n)
    feats = _features(source.read(start, stop), _PROCESS_CACHE[key], args)
    labels = source.labels[start:stop]
    if target.suffix == ".done":
        import zarr

        group = zarr.open_group(str(target.parent / "store.zarr"), mode="r+")
        group["features"][start:stop] = feats
        group["labels"][start:stop] = labels
        target.touch()                      # an empty file: created whole or not at all
    else:
        _atomic_save(target, features=feats, labels=labels)
    return b


# Dask's nannies start their workers with MALLOC_TRIM_THRESHOLD_=65536 (its config
# distributed.nanny.pre-spawn-environ), which turns off glibc's adaptive mmap threshold: every
# block over 128 KiB is then a fresh mmap, so each of the transform's intermediate tensors is
# page-faulted and zeroed again in every batch (about 6,700 page faults per 256-image MNIST
# batch) and the transform runs 20-25 % slower than in one process. The command's own workers keep
# glibc's default (None removes the variable; one already in this process's environment stays).
DASK_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _local_cluster(workers: int):
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes started with
    :data:`DASK_WORKER_CONFIG` (the allocator of a plain process), no dashboard."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(DASK_WORKER_CONFIG):   # read when the nannies start their workers
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            dashboard_address=None)


def _compute_parts(args, source: Source, batches: list[int], batch_size: int,
                   targets: list[Path]) -> list[int]:
    """Batches ``batches`` (consecutive) by :func:`_compute_part`, one Dask task: those whose
    part or marker ``targets[i]`` exists are skipped (finished by an earlier try of this task,
    on a worker that was lost)."""
    for b, target in zip(batches, targets):
        if not target.exists():
            _compute_part(args, source, b, batch_size, target)
    return batches


# Pixels of the images of one Dask task: about 0.2 s of the scattering transform (J=2, L=8) on
# two cores, so that Dask's own cost per task (milliseconds of its scheduler's, client's and
# worker's event loops, which share the cores with the transform) stays a few per cent.
TASK_PIXELS = 1 << 20


def _task_groups(todo: list[int], batch_size: int, image_shape: tuple, threads: int,
                 pixels: int = TASK_PIXELS) -> list[list[int]]:
    """``todo`` cut into runs of consecutive batches, one Dask task each: as many batches as
    make ``pixels`` (at least one), but at least 4 tasks per worker thread where there are
    batches enough, for balance among the workers and a progress bar that moves."""
    per_batch = batch_size * int(np.prod(image_shape))
    size = max(1, min(-(-pixels // per_batch), len(todo) // (4 * max(1, threads))))
    groups: list[list[int]] = []
    for b in todo:
        if groups and len(groups[-1]) < size and groups[-1][-1] == b - 1:
            groups[-1].append(b)
        else:
            groups.append([b])
    return groups


def _note_worker_allocator(client, address: str) -> None:
    """Say so on stderr when workers of the cluster at ``address`` run with
    ``MALLOC_TRIM_THRESHOLD_`` set (Dask's default for the workers its nannies start): the
    features are the same, the transform slower (see :data:`DASK_WORKER_CONFIG`)."""
    values = sorted({v for v in client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()
                     if v is not None})
    if values:
        print(f"note: the workers at {address} run with MALLOC_TRIM_THRESHOLD_={','.join(values)} "
              f"(Dask's default), which slows the transform by about 20 %; start them with "
              f"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null in the Dask "
              f"config (see the README)", file=sys.stderr)


def _compute_parts_on_dask(args, source: Source, todo: list[int], batch_size: int,
                           targets: list[Path], progress) -> None:
    """The missing batches as Dask tasks: on a ``LocalCluster`` of ``--workers`` processes, or
    on the cluster at ``--scheduler``. Each task computes a run of consecutive batches
    (:func:`_task_groups`), reading their images from the dataset's files (the client ships
    file names and labels once per worker, no pixels) and writing each batch's own part or
    chunk: a task lost with its worker is rerun by Dask, skips the batches it had finished and
    rewrites the same bytes for the others."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise CLIError("--workers and --scheduler need dask.distributed: pip install scatter[dask]") from None
    if args.workers is not None and args.scheduler is not None:
        raise CLIError("give --workers N (a cluster on this machine) or --scheduler ADDRESS, not both")
    if args.scheduler is not None:
        cluster, client = None, Client(args.scheduler)
        _note_worker_allocator(client, args.scheduler)
    else:
        _positive("--workers", args.workers)
        cluster = _local_cluster(args.workers)
        client = Client(cluster)
        # Dask starts workers with one OpenMP thread; torch in each gets its share of the cores
        args = argparse.Namespace(**{**vars(args), "run": None,
                                     "worker_threads": max(1, (os.cpu_count() or 1) // args.workers)})
    try:
        shared = client.scatter(source, broadcast=True, hash=False)
        threads = sum(client.nthreads().values())
        futures = [client.submit(_compute_parts, args, shared, group, batch_size,
                                 [targets[b] for b in group], pure=False)
                   for group in _task_groups(todo, batch_size, source.image_shape, threads)]
        bar = progress if hasattr(progress, "update") else None
        for future in as_completed(futures):
            done = future.result()          # a failed batch raises here, with its error
            if bar is not None:
                bar.update(len(done))
        if bar is not None:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _as_batch_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) images as float32 (N, C, H, W) in [0, 1]."""
    from .models.datasets import ImageArrayDataset

    return ImageArrayDataset(images, np.zeros(len(images), dtype=np.int64)).tensors[0]


# ---------------------------------------------------------------------------------- filters
def build_bank(name: str, size: int, J: int, L: int, wavelet: str):
    """The filter bank ``name`` on a ``size`` x ``size`` grid."""
    from . import filters

    shape = (size, size)
    if name == "morlet":
        return filters.morlet_2d(shape, J=J, L=L)
    if name == "gabor":
        return filters.gabor_2d(shape, frequencies=[0.25 / 2 ** j for j in range(J)], L=L,
                                remove_dc=True)
    if name == "log-gabor":
        return filters.log_gabor_2d(shape, n_scales=J, n_orientations=L)
    if name == "curvelet":
        return filters.curvelet_2d(shape, scales=J + 1, angles=16)
    if name == "dwt":
        return filters.dwt_filter_bank(wavelet, shape, level=J)
    raise CLIError(f"unknown bank {name!r}; choose one of {list(BANKS)}")


def run_filters(args) -> int:
    """``scatter filters``: draw a bank with :meth:`scatter.filters.FilterBank.plot` (a figure
    outside ``pyplot``: no display and no backend needed)."""
    out = args.out
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg"):
        raise CLIError(f"--out must end in .png, .pdf or .svg, got {str(out)!r}")
    if not out.parent.is_dir():
        raise CLIError(f"--out: folder {out.parent} does not exist")
    if args.bank not in BANKS:
        raise CLIError(f"unknown bank {args.bank!r}; choose one of {list(BANKS)}")
    _positive("--size", args.size)
    bank = build_bank(args.bank, args.size, args.J, args.L, args.wavelet)
    fig = bank.plot(max_filters=args.max_filters)
    with atomic_output(out, suffix="." + fmt) as tmp:
        fig.savefig(tmp, format=fmt, dpi=100)
    print(f"wrote {out}: {bank!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
