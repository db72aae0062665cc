"""C2PA provenance: every generated format signs and verifies with the c2pa library, a changed byte is caught,
the signing certificate is made once or configured and checked at start-up, and a job that cannot sign fails."""

import io
import json
import multiprocessing
import os
import subprocess
import sys
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from imageio_ffmpeg import get_ffmpeg_exe
from PIL import Image

from media_jobs import provenance, services
from media_jobs.checks import c2pa_signing_certificate_check
from media_jobs.kinds import JobOutput
from media_jobs.provenance import ProvenanceClaim, SigningFailed, UnsupportedMedia
from tests.helpers import replace_runner, stored_files

ROOT = Path(__file__).resolve().parents[2]
IPTC_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CLAIM = ProvenanceClaim(
    persona_id=42,
    persona_name="Ada",
    engine="local talking head",
    consent={"voice": "verified", "face": "unverified"},
    audio_origin="piper speech",
)
FORMATS = ["wav", "mp3", "mp4", "jpg", "png"]
TEST_PATTERN_MP4 = [
    "-f", "lavfi", "-i", "testsrc=size=256x256:rate=25:duration=3",
    "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000:duration=3",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
]  # fmt: skip


@pytest.fixture(autouse=True)
def own_var_dir(settings, tmp_path_factory):
    """A local development certificate of this module's own, made in its own VAR_DIR."""
    settings.VAR_DIR = tmp_path_factory.getbasetemp() / "provenance-var"


def _wav(seconds: float = 5.0, rate: int = 22050) -> bytes:
    time = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * 220 * time)).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _ffmpeg(*args: str, out: Path) -> bytes:
    subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    """One small file of each format the platform generates, unsigned."""
    folder = tmp_path_factory.mktemp("media")
    (folder / "tone.wav").write_bytes(_wav())
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    jpeg, png = io.BytesIO(), io.BytesIO()
    image.save(jpeg, "JPEG", quality=90)
    image.save(png, "PNG")
    return {
        "wav": (folder / "tone.wav").read_bytes(),
        "mp3": _ffmpeg("-i", str(folder / "tone.wav"), "-c:a", "libmp3lame", "-b:a", "64k", out=folder / "a.mp3"),
        "mp4": _ffmpeg(*TEST_PATTERN_MP4, out=folder / "v.mp4"),
        "jpg": jpeg.getvalue(),
        "png": png.getvalue(),
    }


def signed_file(media, fmt: str, folder: Path, claim: ProvenanceClaim = CLAIM) -> bytes:
    path = folder / f"output.{fmt}"
    path.write_bytes(media[fmt])
    provenance.sign(path, fmt=fmt, claim=claim)
    return path.read_bytes()


def c2pa_store(data: bytes, content_type: str) -> dict:
    """The manifest store as the c2pa library reads it, trusting only the platform's CA."""
    anchors = provenance.signing_credentials().anchors_pem.decode()
    context = c2pa.Context.from_dict({"trust": {"trust_anchors": anchors}, "verify": {"remote_manifest_fetch": False}})
    with c2pa.Reader(content_type, io.BytesIO(data), context=context) as reader:
        return json.loads(reader.json())


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_generated_format_is_signed_and_verifies_with_the_c2pa_library(media, tmp_path, fmt):
    signed = signed_file(media, fmt, tmp_path)

    store = c2pa_store(signed, provenance.CONTENT_TYPES[fmt])
    manifest = store["manifests"][store["active_manifest"]]
    assertions = {assertion["label"]: assertion["data"] for assertion in manifest["assertions"]}
    assert store["validation_state"] == "Trusted"
    assert assertions["c2pa.actions.v2"]["actions"] == [
        {
            "action": "c2pa.created",
            "digitalSourceType": IPTC_TRAINED,
            "softwareAgent": {
                "name": f"Persona Platform {provenance.platform_version()}",
                "engine": "local talking head",
            },
        }
    ]
    assert assertions["org.personaplatform.persona"] == {
        "persona": {"id": 42, "name": "Ada"},
        "consent": {"voice": "verified", "face": "unverified"},
        "engine": "local talking head",
        "audio_origin": "piper speech",
    }
    generator = manifest["claim_generator_info"][0]
    assert (generator["name"], generator["version"], generator["engine"]) == (
        "Persona Platform", "0.1.0", "local talking head"
    )  # fmt: skip
    assert manifest["signature_info"]["common_name"] == "Persona Platform local development signer"
    assert provenance.verify(signed) == {"signed": True, "valid": True, "altered": False, "manifest": manifest}


@pytest.mark.parametrize("fmt", ["wav", "jpg", "png"])
def test_signing_adds_the_manifest_and_changes_nothing_seen_or_heard(media, tmp_path, fmt):
    signed = signed_file(media, fmt, tmp_path)

    if fmt == "wav":
        with wave.open(io.BytesIO(media[fmt])) as before, wave.open(io.BytesIO(signed)) as after:
            assert after.readframes(after.getnframes()) == before.readframes(before.getnframes())
    else:
        assert np.array_equal(
            np.asarray(Image.open(io.BytesIO(signed))), np.asarray(Image.open(io.BytesIO(media[fmt])))
        )
    assert len(signed) - len(media[fmt]) < 8000  # a manifest of a few kB, no thumbnail


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_byte_flipped_in_the_media_is_detected(media, tmp_path, fmt):
    signed = bytearray(signed_file(media, fmt, tmp_path))
    middle = len(signed) // 2
    manifest_at = signed.find(b"jumb")
    assert abs(middle - manifest_at) > 10_000  # in the picture or the sound, far from the manifest

    signed[middle] ^= 0x55
    answer = provenance.verify(bytes(signed))

    assert (answer["signed"], answer["valid"], answer["altered"]) == (True, False, True)
    assert provenance.persona_assertion(answer["manifest"])["persona"] == {"id": 42, "name": "Ada"}


def test_a_file_without_a_manifest_is_unsigned(media):
    assert provenance.verify(media["png"]) == {"signed": False, "valid": False, "altered": False, "manifest": None}


def test_a_manifest_made_under_another_ca_is_signed_but_not_valid(media, tmp_path, settings):
    settings.VAR_DIR = tmp_path / "another-machine"
    elsewhere = signed_file(media, "jpg", tmp_path)
    settings.VAR_DIR = tmp_path / "this-machine"

    answer = provenance.verify(elsewhere)

    assert (answer["signed"], answer["valid"], answer["altered"]) == (True, False, False)


@pytest.mark.parametrize("data", [b"just some text, not media", b"GIF89a" + bytes(100), b""])
def test_verify_refuses_what_is_not_a_supported_media_type_naming_those_that_are(data):
    with pytest.raises(UnsupportedMedia, match="the platform signs WAV, MP3, MP4, JPEG and PNG files"):
        provenance.verify(data)


def test_a_file_that_cannot_be_signed_is_left_as_it_was(tmp_path):
    folder = tmp_path / "outputs"
    folder.mkdir()
    broken = folder / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot a wave at all")
    unknown = folder / "still.gif"
    unknown.write_bytes(b"GIF89a" + bytes(32))

    with pytest.raises(SigningFailed, match=r"The output could not be signed \(C2PA: "):
        provenance.sign(broken, fmt="wav", claim=CLAIM)
    with pytest.raises(SigningFailed, match="Cannot sign a .gif file: the platform signs WAV, MP3, MP4, JPEG and PNG"):
        provenance.sign(unknown, fmt="gif", claim=CLAIM)

    assert broken.read_bytes() == b"RIFF\x10\x00\x00\x00WAVEnot a wave at all"
    assert sorted(path.name for path in folder.iterdir()) == ["broken.wav", "still.gif"]


def _credentials_in_a_new_process(var_dir: str) -> bytes:
    from django.conf import settings

    settings.VAR_DIR = Path(var_dir)
    return provenance.signing_credentials().chain_pem


def test_the_local_certificate_is_made_once_even_by_processes_starting_together(tmp_path):
    var_dir = tmp_path / "var"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        chains = pool.map(_credentials_in_a_new_process, [str(var_dir)] * 8)

    assert len(set(chains)) == 1
    assert sorted(path.name for path in var_dir.iterdir()) == ["c2pa"]  # no draft left behind
    folder = var_dir / "c2pa"
    assert sorted(path.name for path in folder.iterdir()) == ["ca.pem", "signer.key", "signer.pem"]
    assert (folder / "signer.key").stat().st_mode & 0o777 == 0o600
    leaf, ca = x509.load_pem_x509_certificates((folder / "signer.pem").read_bytes())
    assert leaf.issuer == ca.subject != leaf.subject  # a CA issued it: C2PA refuses self-signed leaves
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in usages
    assert (folder / "ca.pem").read_bytes() == ca.public_bytes(serialization.Encoding.PEM)


# -- a configured certificate ----------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_chain(folder: Path, *, self_signed: bool = False, bare: bool = False) -> dict[str, Path]:
    """A production-like CA and signing certificate (what an operator's CA issues), written as PEM files;
    `bare`: a leaf without the extended key usage and authority key identifier C2PA asks for."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=1)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Example Root")).issuer_name(_name("Example Root"))
        .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    issuer, issuer_key = (_name("Example Signer"), key) if self_signed else (ca.subject, ca_key)
    leaf = (
        x509.CertificateBuilder().subject_name(_name("Example Signer")).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(2).not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    )  # fmt: skip
    if not bare:
        leaf = leaf.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    leaf = leaf.sign(issuer_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    paths = {"cert": folder / "chain.pem", "key": folder / "signer.key", "anchors": folder / "root.pem"}
    paths["cert"].write_bytes(leaf.public_bytes(pem) + (b"" if self_signed else ca.public_bytes(pem)))
    paths["key"].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    )
    paths["anchors"].write_bytes(ca.public_bytes(pem))
    return paths


@pytest.fixture
def configured(settings, tmp_path):
    paths = make_chain(tmp_path / "production")
    settings.C2PA_SIGNING_CERT, settings.C2PA_SIGNING_KEY = str(paths["cert"]), str(paths["key"])
    settings.C2PA_TRUST_ANCHORS = str(paths["anchors"])
    return paths


@pytest.mark.django_db
def test_a_configured_certificate_signs_and_healthz_says_so(configured, media, tmp_path, settings):
    signed = signed_file(media, "mp4", tmp_path)

    answer = provenance.verify(signed)

    assert (answer["signed"], answer["valid"], answer["altered"]) == (True, True, False)
    assert answer["manifest"]["signature_info"]["common_name"] == "Example Signer"
    assert Client().get("/healthz").json()["provenance"] == {"signing": "configured certificate"}
    settings.C2PA_TRUST_ANCHORS = ""  # without anchors, the chain's last certificate (its root) is trusted
    assert provenance.verify(signed)["valid"] is True


@pytest.mark.django_db
def test_healthz_names_the_local_development_certificate_when_none_is_configured():
    assert Client().get("/healthz").json()["provenance"] == {"signing": "local development certificate"}


def test_the_deploy_check_warns_when_production_signs_with_the_local_ca(settings, tmp_path):
    settings.DEBUG = False

    warnings = [message.id for message in run_checks(include_deployment_checks=True)]
    settings.DEBUG = True
    in_debug = c2pa_signing_certificate_check(None)
    settings.DEBUG = False
    local = settings.VAR_DIR / "c2pa"  # the local set's own files, named as if they were a production certificate
    settings.C2PA_SIGNING_CERT, settings.C2PA_SIGNING_KEY = str(local / "signer.pem"), str(local / "signer.key")
    disguised = c2pa_signing_certificate_check(None)
    paths = make_chain(tmp_path / "production")
    settings.C2PA_SIGNING_CERT, settings.C2PA_SIGNING_KEY = str(paths["cert"]), str(paths["key"])

    assert "media_jobs.W001" in warnings
    assert in_debug == []
    assert [message.id for message in disguised] == ["media_jobs.W001"]
    assert c2pa_signing_certificate_check(None) == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: {"C2PA_SIGNING_CERT": "/nowhere/chain.pem"}, "C2PA_SIGNING_CERT='/nowhere/chain.pem' cannot be read"),
        (lambda p: {"C2PA_SIGNING_CERT": str(p["key"])}, "C2PA_SIGNING_CERT holds no PEM certificate."),
        (lambda p: {"C2PA_SIGNING_KEY": str(p["anchors"])}, "C2PA_SIGNING_KEY cannot be loaded: it is not a PEM"),
        (lambda p: {"C2PA_SIGNING_KEY": ""}, "C2PA_SIGNING_KEY is unset: set both C2PA_SIGNING_CERT and"),
        (
            lambda p: {"C2PA_SIGNING_KEY": str(make_chain(p["cert"].parent / "other")["key"])},
            "C2PA_SIGNING_KEY does not match the certificate in C2PA_SIGNING_CERT",
        ),
        (
            lambda p: dict(zip(("C2PA_SIGNING_CERT", "C2PA_SIGNING_KEY"), map(str, make_chain(
                p["cert"].parent / "self", self_signed=True).values()), strict=False)),
            "C2PA_SIGNING_CERT: its first certificate is self-signed",
        ),
        (
            lambda p: dict(zip(("C2PA_SIGNING_CERT", "C2PA_SIGNING_KEY"), map(str, make_chain(
                p["cert"].parent / "bare", bare=True).values()), strict=False)),
            "C2PA_SIGNING_CERT: C2PA needs the signing certificate to have an extended key usage (e.g. emailProtection "
            "or documentSigning), an authority key identifier.",
        ),
        (lambda p: {"C2PA_TRUST_ANCHORS": str(p["key"])}, "C2PA_TRUST_ANCHORS holds no PEM certificate."),
    ],
    ids=["unreadable", "not-a-certificate", "not-a-key", "key-unset", "key-of-another", "self-signed", "bare-leaf",
         "bad-anchors"],
)  # fmt: skip
def test_a_misconfigured_signer_is_refused_with_one_line(configured, settings, setup, message):
    for name, value in setup(configured).items():
        setattr(settings, name, value)

    with pytest.raises(ImproperlyConfigured) as refused:
        provenance.signing_check()

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_certificate_that_cannot_sign_stops_start_up(tmp_path):
    paths = make_chain(tmp_path / "production")
    other = make_chain(tmp_path / "other")
    env = {**os.environ, "C2PA_SIGNING_CERT": str(paths["cert"]), "C2PA_SIGNING_KEY": str(other["key"])}

    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "persona_platform.settings"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert started.returncode != 0
    assert started.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: C2PA_SIGNING_KEY does not match the certificate in "
        "C2PA_SIGNING_CERT (its first one)."
    )


# -- the job lifecycle -----------------------------------------------------------------------------------------


def _speaking_runner(*, job, work_dir: Path, progress):
    path = work_dir / "speech.wav"
    path.write_bytes(_wav(seconds=1.0))
    return JobOutput(path=path, extension="wav", content_type="audio/wav", result={"ok": True}, claim=CLAIM)


def _run_noop(workspace, capture):
    with capture(execute=True):
        job = services.job_create(workspace=workspace, kind="noop", params={})
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_a_job_stores_its_output_signed(workspace, monkeypatch, django_capture_on_commit_callbacks):
    replace_runner(monkeypatch, "noop", _speaking_runner)

    job = _run_noop(workspace, django_capture_on_commit_callbacks)

    assert (job.status, job.error) == ("ready", "")
    answer = provenance.verify(job.result_file.read())
    assert (answer["signed"], answer["valid"], answer["altered"]) == (True, True, False)
    assert provenance.persona_assertion(answer["manifest"])["consent"] == {"voice": "verified", "face": "unverified"}


@pytest.mark.django_db
def test_a_signing_failure_fails_the_job_cleanly_and_stores_nothing(
    workspace, monkeypatch, configured, settings, media_root, django_capture_on_commit_callbacks
):
    replace_runner(monkeypatch, "noop", _speaking_runner)
    settings.C2PA_SIGNING_KEY = str(make_chain(configured["cert"].parent / "other")["key"])  # changed under it

    job = _run_noop(workspace, django_capture_on_commit_callbacks)

    assert (job.status, job.result_file.name, job.attempts) == ("failed", "", 1)  # no retry fixes a certificate
    assert job.error == (
        "The output could not be signed: C2PA_SIGNING_KEY does not match the certificate in C2PA_SIGNING_CERT "
        "(its first one)."
    )
    assert [name for name in stored_files(media_root) if name.startswith("jobs/")] == []
