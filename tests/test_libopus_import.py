"""libopus weights import: the _data.c parser on a made-up file (always), and byte identity
with the shared libopus 1.6.1 blobs (when the shared folder and a libopus source exist)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from mlcodec.errors import WeightsError
from mlcodec.libopus import sources as S
from mlcodec.nn import weights as W

from conftest import libopus_src

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "libopus"

# A made-up data file in the generator's style: float/int8/int arrays, a compiled-out float
# copy (DISABLE_DEBUG_FLOAT), an #if 0 block, the table with its #ifdef guards, an init.
FAKE = r"""/* Auto generated from checkpoint fake.pth */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "nnet.h"

#ifndef USE_WEIGHTS_FILE
#define WEIGHTS_toy_dense_weights_int8_DEFINED
#define WEIGHTS_toy_dense_weights_int8_TYPE WEIGHT_TYPE_int8
static const opus_int8 toy_dense_weights_int8[8] = {
-128,127,0,1,
-1,2,3,4
};
#endif /* USE_WEIGHTS_FILE */

#ifndef USE_WEIGHTS_FILE
#ifndef DISABLE_DEBUG_FLOAT
#define WEIGHTS_toy_dense_weights_float_DEFINED
#define WEIGHTS_toy_dense_weights_float_TYPE WEIGHT_TYPE_float
static const float toy_dense_weights_float[8] = {1,2,3,4,5,6,7,8};
#endif /*DISABLE_DEBUG_FLOAT*/
#endif /* USE_WEIGHTS_FILE */

#if 0
static const float toy_never[2] = {1, 2};
#endif

#ifndef USE_WEIGHTS_FILE
#define WEIGHTS_toy_dense_bias_DEFINED
#define WEIGHTS_toy_dense_bias_TYPE WEIGHT_TYPE_float
static const float toy_dense_bias[3] = {
    0.1, -2.5e-3, 1.000000059604644775390625000001
};
#define WEIGHTS_toy_dense_suffixed_DEFINED
#define WEIGHTS_toy_dense_suffixed_TYPE WEIGHT_TYPE_float
static const float toy_dense_suffixed[1] = {1.000000059604644775390625000001f};
#define WEIGHTS_toy_dense_weights_idx_DEFINED
#define WEIGHTS_toy_dense_weights_idx_TYPE WEIGHT_TYPE_int
static const int toy_dense_weights_idx[5] = {2, 0, 4};
#endif /* USE_WEIGHTS_FILE */

#ifndef DUMP_BINARY_WEIGHTS
const WeightArray toy_arrays[] = {
#ifdef WEIGHTS_toy_dense_weights_int8_DEFINED
{"toy_dense_weights_int8", WEIGHTS_toy_dense_weights_int8_TYPE,sizeof(toy_dense_weights_int8),toy_dense_weights_int8},
#endif
#ifdef WEIGHTS_toy_dense_weights_float_DEFINED
{"toy_dense_weights_float", WEIGHTS_toy_dense_weights_float_TYPE,sizeof(toy_dense_weights_float),toy_dense_weights_float},
#endif
#ifdef WEIGHTS_toy_dense_weights_idx_DEFINED
{"toy_dense_weights_idx", WEIGHTS_toy_dense_weights_idx_TYPE,sizeof(toy_dense_weights_idx),toy_dense_weights_idx},
#endif
#ifdef WEIGHTS_toy_dense_bias_DEFINED
{"toy_dense_bias", WEIGHTS_toy_dense_bias_TYPE,sizeof(toy_dense_bias),toy_dense_bias},
#endif
#ifdef WEIGHTS_toy_dense_suffixed_DEFINED
{"toy_dense_suffixed", WEIGHTS_toy_dense_suffixed_TYPE,sizeof(toy_dense_suffixed),toy_dense_suffixed},
#endif
{NULL,0,0,NULL}
};
#endif /* DUMP_BINARY_WEIGHTS */

#ifndef DUMP_BINARY_WEIGHTS
int init_toy(TOY *model,const WeightArray *arrays) {
if (linear_init(&model->toy_dense,arrays,"toy_dense_bias",NULL,"toy_dense_weights_int8","toy_dense_weights_float","toy_dense_weights_idx",NULL,NULL,4,2)) return 1;
if (conv2d_init(&model->toy_conv,arrays,"toy_conv_bias","toy_conv_weight_float",1,4,3,3)) return 1;
return 0;
}
#endif /* DUMP_BINARY_WEIGHTS */
"""

FAKE_STATS = """#include "dred_rdovae_stats_data.h"
#define WEIGHTS_dred_latent_quant_scales_q8_DEFINED
const opus_uint8 dred_latent_quant_scales_q8[4] = { 255, 0, 7, 8 };
const opus_uint8 dred_state_r_q8[2] = { 1, 200 };
"""
FAKE_CONSTANTS = """#define DRED_LATENT_DIM 2 /* latent */
#define DRED_NUM_QUANTIZATION_LEVELS 2
#define DRED_MAX_LATENTS 26
#define DRED_NUM_REDUNDANCY_FRAMES (2*DRED_MAX_LATENTS)
#define NOT_DRED 3
"""


def _expected_fake_blob() -> bytes:
    """The blob write_weights() gives for FAKE, built from the literal values by hand."""
    one_plus = np.float32(1.0)  # double rounding: the literal rounds to the float32 midpoint, then to even
    recs = [
        ("toy_dense_weights_int8", W.WEIGHT_INT8, np.array([-128, 127, 0, 1, -1, 2, 3, 4], np.int8)),
        ("toy_dense_weights_idx", W.WEIGHT_INT32, np.array([2, 0, 4, 0, 0], np.int32)),  # C zero-fills
        ("toy_dense_bias", W.WEIGHT_FLOAT32, np.array([np.float32(0.1), np.float32(-2.5e-3), one_plus], np.float32)),
        ("toy_dense_suffixed", W.WEIGHT_FLOAT32, np.array([np.nextafter(np.float32(1), np.float32(2))], np.float32)),
    ]
    return W.weights_to_bytes(recs)


def test_fake_data_file_parses_like_a_default_build():
    df = S.parse_data_c(FAKE, file="toy_data.c")
    assert list(df.tables) == ["toy_arrays"]
    assert df.tables["toy_arrays"] == ["toy_dense_weights_int8", "toy_dense_weights_idx", "toy_dense_bias",
                                       "toy_dense_suffixed"]
    assert df.skipped_tables["toy_arrays"] == ["toy_dense_weights_float"]
    assert "toy_never" not in df.arrays
    assert df.blob("toy_arrays") == _expected_fake_blob()
    lin, conv = df.layers["toy"]
    assert lin == {"name": "toy_dense", "kind": "linear", "bias": "toy_dense_bias", "subias": None,
                   "weights_int8": "toy_dense_weights_int8", "weights_float": "toy_dense_weights_float",
                   "weights_idx": "toy_dense_weights_idx", "diag": None, "scale": None,
                   "nb_inputs": 4, "nb_outputs": 2}
    assert conv["kind"] == "conv2d" and (conv["in_channels"], conv["out_channels"], conv["ktime"]) == (1, 4, 3)


def test_defines_are_evaluated():
    d = S.parse_defines(FAKE_CONSTANTS)
    assert d["DRED_LATENT_DIM"] == 2 and d["DRED_NUM_REDUNDANCY_FRAMES"] == 52 and d["NOT_DRED"] == 3


@pytest.mark.parametrize("bad, reason", [
    (FAKE.replace("{\n-128,127", "{\n-129,127"), "outside the opus_int8 range"),
    (FAKE.replace("[3] = {", "[2] = {"), "3 initialisers for 2 elements"),
    (FAKE.replace("#if 0", "#if FOO"), "unsupported preprocessor condition"),
    (FAKE.replace("#endif /* DUMP_BINARY_WEIGHTS */\n\n#ifndef", "\n#ifndef"), "unterminated"),
    (FAKE.replace("-2.5e-3", "-2.5e-3x"), "not a float literal"),
    (FAKE.replace("sizeof(toy_dense_bias),toy_dense_bias}", "sizeof(toy_dense_bias),toy_other}"), "names other arrays"),
])
def test_bad_data_file_is_one_weights_error(bad, reason):
    with pytest.raises(WeightsError) as e:
        S.parse_data_c(bad, file="toy_data.c")
    assert reason in str(e.value) and e.value.file == "toy_data.c"


def make_fake_source(tmp_path: Path, kind: str = "tar.gz") -> Path:
    """A made-up libopus release: opus-9.9.9/{package_version,COPYING,dnn/...}."""
    files = {"opus-9.9.9/package_version": 'PACKAGE_VERSION="9.9.9"\n', "opus-9.9.9/COPYING": "BSD-3-Clause fake\n",
             "opus-9.9.9/dnn/toy_data.c": FAKE, "opus-9.9.9/dnn/dump_data.c": "#if FOO\n#endif\n",
             "opus-9.9.9/dnn/dred_rdovae_stats_data.c": FAKE_STATS,
             "opus-9.9.9/dnn/dred_rdovae_constants.h": FAKE_CONSTANTS,
             "opus-9.9.9/README": "not needed\n",
             "opus-9.9.9/dnn/torch/old/toy_data.c": "a same-named file elsewhere must not win\n"}
    if kind == "dir":
        for name, text in files.items():
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return tmp_path / "opus-9.9.9"
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / ("opus-9.9.9." + kind)
    with tarfile.open(out, "w:" + kind.split(".")[-1].replace("tar", "")) as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize("kind", ["dir", "tar.gz", "tar.xz"])
def test_import_from_directory_and_archives(tmp_path, kind):
    src = make_fake_source(tmp_path, kind)
    seen = []
    r = S.import_models(src, progress=lambda d, t, n: seen.append((d, t)))
    assert r.version == "9.9.9"
    assert r.blobs["toy_arrays"] == _expected_fake_blob()
    assert "weights_blob" not in r.blobs  # the upstream combination needs the seven real tables
    tables = W.read_weights(r.blobs["dred_tables"])
    assert list(tables["dred_latent_quant_scales_q8"].data) == [255, 0, 7, 8]
    assert int(tables["DRED_NUM_REDUNDANCY_FRAMES"].data[0]) == 52 and "NOT_DRED" not in tables
    assert seen[-1][0] == seen[-1][1]


def test_source_errors(tmp_path):
    with pytest.raises(WeightsError, match="no such file"):
        S.import_models(tmp_path / "missing.tar.xz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(WeightsError, match="not a readable tar archive"):
        S.import_models(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="no dnn/"):
        S.import_models(tmp_path / "empty")


# --- the real thing ---------------------------------------------------------------------


def libopus_source() -> Path | None:
    """$MLCODEC_LIBOPUS_SRC, else the tarball or tree of the libopus build (tests/conftest.py)."""
    env = os.environ.get("MLCODEC_LIBOPUS_SRC")
    if env:
        return Path(env)
    for cand in (libopus_src().parent / "opus_1.6.1.orig.tar.xz", libopus_src()):
        if cand.exists():
            return cand
    return None


@pytest.fixture(scope="module")
def real_import():
    if not (SHARED / "manifest.json").is_file():
        pytest.skip(f"shared libopus blobs absent at {SHARED}")
    src = libopus_source()
    if src is None:
        pytest.skip("no libopus 1.6.1 source: set MLCODEC_LIBOPUS_SRC to a source tree or release tarball")
    return S.import_models(src)


def test_every_blob_is_byte_identical_to_the_shared_ones(real_import):
    shared = sorted(p.stem for p in SHARED.glob("*.bin"))
    assert shared, "no blobs in the shared folder"
    for name in shared:
        assert name in real_import.blobs, name
        assert real_import.blobs[name] == (SHARED / f"{name}.bin").read_bytes(), name


def test_records_follow_the_manifest(real_import):
    manifest = json.loads((SHARED / "manifest.json").read_text())
    for cfile, m in manifest.items():
        if "table" not in m:
            continue
        ws = W.read_weights(real_import.blobs[m["table"]])
        want = [a for a in m["arrays"] if a not in m["skipped_debug_float_entries"]]
        assert [r.name for r in ws.records] == want, cfile
        assert real_import.skipped[m["table"]] == m["skipped_debug_float_entries"]
        for r in ws.records:
            assert hashlib.sha256(bytes(r.data.data)).hexdigest() == m["arrays"][r.name]["sha256"], r.name
        assert hashlib.sha256(real_import.blobs[m["table"]]).hexdigest() == m["blob_sha256"]


def test_dred_tables_match_the_manifest(real_import):
    manifest = json.loads((SHARED / "manifest.json").read_text())["dred_rdovae_stats_data.c"]["arrays"]
    ws = W.read_weights(real_import.blobs["dred_tables"])
    for name, m in manifest.items():
        data = ws[name].data.astype(np.uint8)
        assert data.size == m["count"] and hashlib.sha256(data.tobytes()).hexdigest() == m["sha256"], name
    assert int(ws["DRED_EXPERIMENTAL_VERSION"].data[0]) == 12
    assert int(ws["DRED_LATENT_DIM"].data[0]) == 25 and int(ws["DRED_STATE_DIM"].data[0]) == 50


def test_layer_specs_bind_every_real_model(real_import):
    from mlcodec.libopus.specs import model_specs
    from mlcodec.nn.models import verify

    specs = {s.name: s for s in model_specs(real_import.layers)}
    assert set(specs) == {f"libopus:{n}" for n in ("pitchdnn", "fargan", "plcmodel", "rdovaeenc", "rdovaedec",
                                                    "lace", "nolace", "bbwenet", "lossgen")}
    by_table = {"pitchdnn": "pitchdnn_arrays", "fargan": "fargan_arrays", "plcmodel": "plcmodel_arrays",
                "rdovaeenc": "rdovaeenc_arrays", "rdovaedec": "rdovaedec_arrays", "lace": "lacelayers_arrays",
                "nolace": "nolacelayers_arrays", "bbwenet": "bbwenetlayers_arrays", "lossgen": "lossgen_arrays"}
    for short, table in by_table.items():
        ws = W.read_weights(real_import.blobs[table])
        spec = specs[f"libopus:{short}"]
        assert verify(ws, spec) == [], short
        # every record of the blob belongs to some layer of the model
        assert set(ws) <= set(spec.records()), short
