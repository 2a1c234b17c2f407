"""The QM9 reader: a few rows in qm9pack's CSV layout (always), and the real files (where the
``qm9pack`` package is installed; it is not a test dependency: about 100 MB)."""
import numpy as np
import pytest

from scatter.models import QM9, load_qm9, qm9_folder
from scatter.models.qm9 import ATOM_U0_HARTREE, FILES, HARTREE_TO_KCAL_MOL

HEADER = ("XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,"
          "Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,"
          "LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,"
          "Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K")
# the first and fourth molecules of qm9pack's qm9_part1.csv (the fourth has numbers like "0.")
ROWS = [
    '"dsgdb9nsd_000001.xyz",1,"C","InChI=1S/CH4/h1H4",5,"[4,1,0,0,0]","[\'C\',\'H\',\'H\',\'H\',\'H\']",'
    '"[[-0.0126981359,1.0858041578,0.0080009958],[0.002150416,-0.0060313176,0.0019761204],'
    '[1.0117308433,1.4637511618,0.0002765748],[-0.540815069,1.4475266138,-0.8766437152],'
    '[-0.5238136345,1.4379326443,0.9063972942]]","[-0.535689,0.133921,0.133922,0.133923,0.133923]",'
    '"[1341.307,1341.3284]",157.7118,157.70997,157.70699,0.,13.21,-0.3877,0.1171,0.5048,35.3641,'
    '0.044749,-40.47893,-40.476062,-40.475117,-40.498597,6.469',
    '"dsgdb9nsd_000004.xyz",4,"C#C","InChI=1S/C2H2/c1-2/h1-2H",4,"[2,2,0,0,0]","[\'C\',\'C\',\'H\',\'H\']",'
    '"[[0.5995394918,0.,1.],[-0.5995394918,0.,1.],[-1.6616385861,0.,1.],[1.6616385861,0.,1.]]",'
    '"[-0.1,-0.1,0.1,0.1]","[1.0]",0.,35.6100361,35.6100361,0.,16.28,-0.2719,0.0507,0.3226,'
    '38.3372,0.026841,-77.308427,-77.305527,-77.304583,-77.327429,8.574',
]


@pytest.fixture
def csv_folder(tmp_path):
    (tmp_path / FILES[0]).write_text(HEADER + "\n" + ROWS[0] + "\n")
    (tmp_path / FILES[1]).write_text(HEADER + "\n" + ROWS[1] + "\n")
    (tmp_path / FILES[2]).write_text(HEADER + "\n")
    return tmp_path


def test_reads_qm9pack_layout(csv_folder):
    qm9 = load_qm9(csv_folder)
    assert len(qm9) == 2 and qm9.names == ["dsgdb9nsd_000001", "dsgdb9nsd_000004"]
    assert qm9.index.tolist() == [1, 4] and qm9.smiles == ["C", "C#C"]
    assert qm9.charges[0].tolist() == [6, 1, 1, 1, 1] and qm9.charges[1].tolist() == [6, 6, 1, 1]
    assert qm9.positions[0].shape == (5, 3) and qm9.positions[0][1, 1] == -0.0060313176
    np.testing.assert_array_equal(qm9.positions[1][0], [0.5995394918, 0.0, 1.0])
    assert qm9.properties["InternalEnergy_0K_au"].tolist() == [-40.47893, -77.308427]
    assert qm9.properties["Dipole_debye"].tolist() == [0.0, 0.0]
    assert "Mulliken_pop" not in qm9.properties and "XYZ_Ang" not in qm9.properties
    # atomization energy: U0 less the free atoms', in kcal/mol (methane: about -396)
    expected = (-40.47893 - ATOM_U0_HARTREE[6] - 4 * ATOM_U0_HARTREE[1]) * HARTREE_TO_KCAL_MOL
    assert qm9.atomization_energy()[0] == pytest.approx(expected, rel=1e-12)
    assert qm9.atomization_energy()[0] == pytest.approx(-396.0, abs=0.1)
    assert load_qm9(csv_folder, max_rows=1).names == ["dsgdb9nsd_000001"]
    sub = qm9.subset([1])
    assert isinstance(sub, QM9) and sub.smiles == ["C#C"] and sub.properties["HOMO_au"].tolist() == [-0.2719]


def test_bad_files(tmp_path, csv_folder):
    with pytest.raises(FileNotFoundError, match="qm9_part1.csv"):
        load_qm9(tmp_path / "nowhere")
    bad = ROWS[0].replace("\'H\',\'H\']", "\'H\',\'Xx\']")
    (csv_folder / FILES[0]).write_text(HEADER + "\n" + bad + "\n")
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        load_qm9(csv_folder)
    short = ROWS[0].replace(",[-0.5238136345,1.4379326443,0.9063972942]", "")
    (csv_folder / FILES[0]).write_text(HEADER + "\n" + short + "\n")
    with pytest.raises(ValueError, match="positions of shape"):
        load_qm9(csv_folder)


@pytest.fixture
def qm9pack_folder():
    folder = qm9_folder()
    if folder is None:
        pytest.skip("qm9pack is not installed (about 100 MB, not a test dependency): "
                    "`pip install qm9pack` to test the reader on the real QM9 files")
    return folder


def test_real_files_first_rows(qm9pack_folder):
    qm9 = load_qm9(max_rows=5)
    assert qm9.smiles == ["C", "N", "O", "C#C", "C#N"]
    assert qm9.index.tolist() == [1, 2, 3, 4, 5]
    assert [len(z) for z in qm9.charges] == [5, 4, 3, 4, 3]
    assert qm9.properties["InternalEnergy_0K_au"][0] == -40.47893
    assert np.all(qm9.atomization_energy() < 0)
