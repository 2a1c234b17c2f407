"""QM9 (134k small organic molecules with DFT properties) read from the CSV files of ``qm9pack``.

QM9 (Ramakrishnan, Dral, Rupp & von Lilienfeld, "Quantum chemistry structures and properties of
134 kilo molecules", Scientific Data 1, 140022, 2014) gives, for every molecule of up to nine
heavy atoms (C, N, O, F), its B3LYP/6-31G(2df,p) geometry and properties. The PyPI package
``qm9pack`` (MIT) ships it as three CSV files ``qm9_part{1,2,3}.csv`` (130,831 molecules: the
3,054 whose geometry failed the paper's consistency check are left out), one row per molecule
with its atoms as ``Elements`` (``"['C','H',...]"``) and ``XYZ_Ang`` (a JSON list of ``[x, y, z]``
in angstrom; numbers may end in a bare point, so not JSON) and one column per property (``InternalEnergy_0K_au`` is ``U0`` in hartree).
The reader parses those files directly (the package's own loader needs pandas and
``pkg_resources``); it never downloads anything.
"""
from __future__ import annotations

import csv
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Atomic numbers of QM9's elements.
ELEMENTS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
# U0 (hartree) of the free atoms at QM9's level of theory, B3LYP/6-31G(2df,p): the "atomref"
# table of Ramakrishnan et al. 2014 (figshare, atomref.txt).
ATOM_U0_HARTREE = {1: -0.500273, 6: -37.846772, 7: -54.583861, 8: -75.064579, 9: -99.718730}
HARTREE_TO_KCAL_MOL = 627.509474
FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
# the scalar properties of a row (everything but identifiers, atoms and per-atom lists)
_SKIP = {"XYZ_file", "Index", "SMILES", "InChi", "N_atoms", "Stoichiometry", "Elements", "XYZ_Ang",
         "Mulliken_pop", "Harmonic_Freq_cmi"}


def qm9_folder() -> Path | None:
    """The folder of ``qm9pack``'s CSV files, or ``None`` where the package is not installed.

    Found through the import system without importing the package (its ``__init__`` needs
    pandas and setuptools' ``pkg_resources``).

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> from scatter.models import qm9_folder
    >>> folder = qm9_folder()          # None unless `pip install qm9pack`
    >>> folder is None or (folder / "qm9_part1.csv").is_file()
    True
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    return folder if (folder / FILES[0]).is_file() else None


@dataclass
class QM9:
    """Molecules of QM9: atoms, positions and properties.

    Attributes
    ----------
    names : list of str
        ``'dsgdb9nsd_000001'``, ...: the molecule's file name in the QM9 release.
    index : ndarray of int, shape (n,)
        QM9's molecule number (1 to 133,885).
    smiles : list of str
    charges : list of ndarray of int
        Atomic numbers of each molecule's atoms, shape ``(n_atoms,)``.
    positions : list of ndarray of float64
        Their positions in angstrom, shape ``(n_atoms, 3)``.
    properties : dict of str to ndarray of float64, shape (n,)
        Every scalar property, under its CSV column name (``'InternalEnergy_0K_au'``: ``U0``,
        hartree; ``'HOMO_au'``, ``'Dipole_debye'``, ...; see the QM9 paper for units).

    Examples
    --------
    >>> import numpy as np
    >>> from scatter.models import QM9
    >>> methane = QM9(names=["m"], index=np.array([1]), smiles=["C"], charges=[np.array([6, 1, 1, 1, 1])],
    ...               positions=[np.zeros((5, 3))], properties={"InternalEnergy_0K_au": np.array([-40.47893])})
    >>> round(float(methane.atomization_energy()[0]), 1)        # kcal/mol
    -396.0
    """

    names: list
    index: np.ndarray
    smiles: list
    charges: list
    positions: list
    properties: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def atomization_energy(self, column: str = "InternalEnergy_0K_au") -> np.ndarray:
        """The energy ``column`` less its free atoms' (:data:`ATOM_U0_HARTREE`), in kcal/mol.

        With the default ``U0``: the atomization energy at 0 K (negative: a bound molecule).
        The free-atom references are ``U0`` values; they suit ``U0`` only.

        Parameters
        ----------
        column : str
            A property in hartree.

        Returns
        -------
        ndarray of float64, shape (n,)

        Examples
        --------
        See :class:`QM9`.
        """
        atoms = np.array([sum(ATOM_U0_HARTREE[int(z)] for z in zs) for zs in self.charges])
        return (self.properties[column] - atoms) * HARTREE_TO_KCAL_MOL

    def subset(self, rows) -> "QM9":
        """The molecules at ``rows`` (indices into this set), as a new :class:`QM9`.

        Parameters
        ----------
        rows : sequence of int

        Returns
        -------
        QM9

        Examples
        --------
        See :class:`QM9`.
        """
        rows = [int(r) for r in np.asarray(rows).ravel()]
        return QM9(names=[self.names[r] for r in rows], index=self.index[rows],
                   smiles=[self.smiles[r] for r in rows], charges=[self.charges[r] for r in rows],
                   positions=[self.positions[r] for r in rows],
                   properties={k: v[rows] for k, v in self.properties.items()})


def _elements(text: str) -> np.ndarray:
    symbols = [s.strip().strip("'\"") for s in text.strip().strip("[]").split(",")]
    try:
        return np.array([ELEMENTS[s] for s in symbols], dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"unknown element {error.args[0]!r} in {text!r}; QM9 holds "
                         f"{sorted(ELEMENTS)}") from None


def _positions(text: str) -> np.ndarray:
    # not JSON: numbers may end in a bare point ("0.", "1.")
    numbers = text.replace("[", " ").replace("]", " ").split(",")
    return np.array([float(v) for v in numbers], dtype=np.float64).reshape(-1, 3)


def load_qm9(folder: str | os.PathLike | None = None, max_rows: int | None = None) -> QM9:
    """Read QM9 from ``qm9pack``'s CSV files.

    Parameters
    ----------
    folder : path, optional
        The folder holding ``qm9_part1.csv``, ``qm9_part2.csv``, ``qm9_part3.csv`` (default:
        the installed ``qm9pack``'s, :func:`qm9_folder`).
    max_rows : int, optional
        Read only the first ``max_rows`` molecules (in file order), e.g. for a quick test.

    Returns
    -------
    QM9
        In file order (QM9's numbering).

    Raises
    ------
    FileNotFoundError
        No folder given and ``qm9pack`` not installed (``pip install qm9pack``, about 100 MB
        download, 225 MB installed), or a file missing.
    ValueError
        A row whose atoms, positions and atom count disagree.

    Examples
    --------
    >>> from scatter.models import load_qm9, qm9_folder
    >>> if qm9_folder() is not None:
    ...     qm9 = load_qm9(max_rows=3)
    ...     print(qm9.smiles, qm9.charges[0].tolist(), qm9.positions[0].shape)
    ... else:
    ...     print(['C', 'N', 'O'], [6, 1, 1, 1, 1], (5, 3))
    ['C', 'N', 'O'] [6, 1, 1, 1, 1] (5, 3)
    """
    if folder is None:
        folder = qm9_folder()
        if folder is None:
            raise FileNotFoundError("qm9pack is not installed: `pip install qm9pack` (about 100 MB) "
                                    "or pass the folder of its CSV files")
    folder = Path(folder)
    names, index, smiles, charges, positions = [], [], [], [], []
    columns: list[str] | None = None
    values: dict[str, list] = {}
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: QM9's CSV files are {list(FILES)}")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            if columns is None:
                columns = [c for c in header if c not in _SKIP]
                values = {c: [] for c in columns}
            at = {c: i for i, c in enumerate(header)}
            for row in reader:
                if max_rows is not None and len(names) >= max_rows:
                    break
                z = _elements(row[at["Elements"]])
                xyz = _positions(row[at["XYZ_Ang"]])
                if xyz.shape != (z.size, 3) or int(row[at["N_atoms"]]) != z.size:
                    raise ValueError(f"{path.name}, {row[at['XYZ_file']]}: {z.size} elements, "
                                     f"positions of shape {xyz.shape}, N_atoms {row[at['N_atoms']]}")
                names.append(row[at["XYZ_file"]].removesuffix(".xyz"))
                index.append(int(row[at["Index"]]))
                smiles.append(row[at["SMILES"]])
                charges.append(z)
                positions.append(xyz)
                for c in columns:
                    values[c].append(float(row[at[c]]))
        if max_rows is not None and len(names) >= max_rows:
            break
    return QM9(names=names, index=np.array(index, dtype=np.int64), smiles=smiles, charges=charges,
               positions=positions, properties={c: np.array(v) for c, v in values.items()})
