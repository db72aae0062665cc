"""C2PA provenance: every file the platform generates carries a manifest the platform signed.

The manifest says that a trained model made the file (`c2pa.created`, IPTC's `trainedAlgorithmicMedia`),
which platform version and engine made it, of which persona (id and name, no other personal data), what
consent covered that likeness when it was made and, for a video, where its sound came from.

The signing certificate is the configured one (C2PA_SIGNING_CERT, C2PA_SIGNING_KEY, C2PA_TRUST_ANCHORS) or,
unset, a local development CA and a certificate it issued, made once under VAR_DIR/c2pa: C2PA refuses
self-signed leaf certificates. `signing_check()` signs a few bytes when a process starts, so a certificate
that cannot sign stops the process there rather than failing the first job. docs/DEPLOYMENT.md, "Provenance".
"""

import io
import json
import os
import secrets
import shutil
import tomllib
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from media_jobs.engines.base import EngineError
from media_jobs.engines.media_types import media_type_of
from persona_platform.errors import InvalidMedia

GENERATOR = "Persona Platform"
PERSONA_ASSERTION = "org.personaplatform.persona"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
LOCAL_CA_NAME = "Persona Platform local development CA"
LOCAL_SIGNER_NAME = "Persona Platform local development signer"
LOCAL_CERTIFICATE = "local development certificate"
CONFIGURED_CERTIFICATE = "configured certificate"

# What a generated file is, by its extension (JobOutput.extension) and by its first bytes.
CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
SUPPORTED = "WAV, MP3, MP4, JPEG and PNG"
# Validation codes that say the file or its manifest changed after signing (a hash of the media, of an
# assertion, or the claim's signature no longer matches).
ALTERED_CODES = ("assertion.dataHash.mismatch", "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch",
                 "assertion.collectionHash.mismatch", "assertion.hashedURI.mismatch", "claimSignature.mismatch")  # fmt: skip


class SigningFailed(EngineError):
    """The file could not be signed: its job fails (no retry fixes a certificate), and nothing is stored."""


class UnsupportedMedia(InvalidMedia):
    """A file that is none of the media types the platform generates and signs."""


@dataclass(frozen=True)
class ProvenanceClaim:
    """What a generated file's manifest says about how it was made. `consent`: the state of each likeness
    used (`voice`, `face`) at generation time; `audio_origin`: where a video's sound came from."""

    persona_id: int | None
    persona_name: str
    engine: str
    consent: dict[str, str] = field(default_factory=dict)
    audio_origin: str = ""


@dataclass(frozen=True)
class SigningCredentials:
    """The certificate chain (leaf first) and key the platform signs with, and the roots a manifest must
    chain to for `valid`."""

    chain_pem: bytes
    key_pem: bytes  # PKCS#8, as c2pa reads it
    anchors_pem: bytes
    algorithm: str  # c2pa's name: es256, es384, es512, ps256, ed25519
    local: bool


# -- signing credentials ---------------------------------------------------------------------------------------


def signing_source() -> str:
    """What /healthz says outputs are signed with."""
    return CONFIGURED_CERTIFICATE if settings.C2PA_SIGNING_CERT else LOCAL_CERTIFICATE


def signing_credentials() -> SigningCredentials:
    """The configured chain and key, or the local development ones (made on first use); ImproperlyConfigured
    with a one-line reason when they cannot be loaded."""
    return _credentials(
        settings.C2PA_SIGNING_CERT, settings.C2PA_SIGNING_KEY, settings.C2PA_TRUST_ANCHORS, str(settings.VAR_DIR)
    )


@lru_cache(maxsize=8)
def _credentials(cert_path: str, key_path: str, anchors_path: str, var_dir: str) -> SigningCredentials:
    if not cert_path and not key_path:
        if anchors_path:
            raise ImproperlyConfigured("C2PA_TRUST_ANCHORS is set without C2PA_SIGNING_CERT and C2PA_SIGNING_KEY.")
        return _local_credentials(Path(var_dir) / "c2pa")
    if not cert_path or not key_path:
        missing = "C2PA_SIGNING_KEY" if cert_path else "C2PA_SIGNING_CERT"
        raise ImproperlyConfigured(f"{missing} is unset: set both C2PA_SIGNING_CERT and C2PA_SIGNING_KEY, or neither.")
    chain = _load_chain(_read("C2PA_SIGNING_CERT", cert_path), "C2PA_SIGNING_CERT")
    key = _load_key(_read("C2PA_SIGNING_KEY", key_path), "C2PA_SIGNING_KEY")
    anchors = _load_chain(_read("C2PA_TRUST_ANCHORS", anchors_path), "C2PA_TRUST_ANCHORS") if anchors_path else []
    return _checked(chain, key, anchors or chain[-1:], local=False, names=("C2PA_SIGNING_CERT", "C2PA_SIGNING_KEY"))


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}={path!r} cannot be read: {exc.strerror or exc}.") from None


def _load_chain(data: bytes, name: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        chain = []
    if not chain:
        raise ImproperlyConfigured(f"{name} holds no PEM certificate.")
    return chain


def _load_key(data: bytes, name: str):
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted" if isinstance(exc, TypeError) else "it is not a PEM private key"
        raise ImproperlyConfigured(f"{name} cannot be loaded: {reason}.") from None


def _algorithm(key, name: str) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithms = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in algorithms:
            return algorithms[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ImproperlyConfigured(f"{name}: C2PA signs with EC P-256/384/521, RSA of 2048 bits or more, or Ed25519 keys.")


def _pem(certificates: list[x509.Certificate]) -> bytes:
    return b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in certificates)


def _checked(chain, key, anchors, *, local: bool, names: tuple[str, str]) -> SigningCredentials:
    """What C2PA asks of a signing certificate, each refusal in one line naming the setting."""
    cert_name, key_name = names
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(serialization.Encoding.PEM, public) != key.public_key().public_bytes(
        serialization.Encoding.PEM, public
    ):
        raise ImproperlyConfigured(f"{key_name} does not match the certificate in {cert_name} (its first one).")
    if leaf.issuer == leaf.subject:
        raise ImproperlyConfigured(f"{cert_name}: its first certificate is self-signed; C2PA needs one a CA issued.")
    if missing := _missing_extensions(leaf):
        raise ImproperlyConfigured(f"{cert_name}: C2PA needs the signing certificate to have {missing}.")
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        valid = f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"
        raise ImproperlyConfigured(f"{cert_name}: the certificate is not valid now (it is valid {valid}).")
    return SigningCredentials(
        chain_pem=_pem(chain),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        anchors_pem=_pem(anchors),
        algorithm=_algorithm(key, key_name),
        local=local,
    )


def _missing_extensions(leaf: x509.Certificate) -> str:
    """What C2PA's certificate profile asks of a signing certificate that it lacks ("" for nothing), so that the
    start-up refusal names it rather than C2PA's bare "the certificate is invalid"."""
    extensions = {extension.oid: extension.value for extension in leaf.extensions}
    usage = extensions.get(x509.OID_KEY_USAGE)
    constraints = extensions.get(x509.OID_BASIC_CONSTRAINTS)
    has_usage = isinstance(usage, x509.KeyUsage) and usage.digital_signature
    needs = {
        "the digitalSignature key usage": not has_usage,
        "an extended key usage (e.g. emailProtection or documentSigning)": x509.OID_EXTENDED_KEY_USAGE
        not in extensions,
        "an authority key identifier": x509.OID_AUTHORITY_KEY_IDENTIFIER not in extensions,
        "no CA basic constraint": isinstance(constraints, x509.BasicConstraints) and constraints.ca,
    }
    return ", ".join(need for need, lacking in needs.items() if lacking)


def _local_credentials(folder: Path) -> SigningCredentials:
    """The local development CA's certificate and the signing certificate it issued, made the first time.

    Two processes starting at once may both make a set, each in its own folder beside the final one; the
    first rename wins and the other process uses the winner's, so no process ever mixes one set's key with
    another's certificate. The CA's own key is not kept: it has issued its one certificate."""
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        draft = folder.with_name(f".{folder.name}-{secrets.token_hex(6)}")
        draft.mkdir(mode=0o700)
        try:
            _write_local_set(draft)
            os.rename(draft, folder)
        except OSError:
            if not folder.exists():
                raise ImproperlyConfigured(
                    f"The local C2PA certificate cannot be written under {folder.parent}."
                ) from None
        finally:
            shutil.rmtree(draft, ignore_errors=True)
    where = f"the local C2PA certificate in {folder} (delete that folder to make a new one)"
    try:
        chain = _load_chain((folder / "signer.pem").read_bytes(), where)
        key = _load_key((folder / "signer.key").read_bytes(), where)
        anchors = _load_chain((folder / "ca.pem").read_bytes(), where)
    except OSError as exc:
        raise ImproperlyConfigured(f"{where}: {exc.strerror or exc}.") from None
    return _checked(chain, key, anchors, local=True, names=(where, where))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, GENERATOR)]
    )


def _key_usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=not sign, crl_sign=not sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _write_local_set(folder: Path) -> None:
    """An ES256 CA and a leaf it signs with what C2PA requires of a signer: digitalSignature, an EKU it
    accepts (emailProtection), not a CA."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(LOCAL_CA_NAME))
        .issuer_name(_name(LOCAL_CA_NAME))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name(LOCAL_SIGNER_NAME))
        .issuer_name(ca.subject)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = signer_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "ca.pem").write_bytes(_pem([ca]))
    (folder / "signer.pem").write_bytes(_pem([signer, ca]))
    key_file = folder / "signer.key"
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem)


def uses_local_ca() -> bool:
    """Whether outputs are signed under the local development CA: unset certificates, or the local set's
    own files named as if they were a production certificate."""
    credentials = signing_credentials()
    leaf = x509.load_pem_x509_certificates(credentials.chain_pem)[0]
    return credentials.local or leaf.issuer == _name(LOCAL_CA_NAME)


def signing_check() -> None:
    """Sign a tiny WAV with the credentials, so that a certificate, key or algorithm C2PA refuses stops start-up
    with a one-line reason instead of failing the first job."""
    credentials = signing_credentials()
    sample = io.BytesIO()
    with wave.open(sample, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(160))
    claim = ProvenanceClaim(persona_id=None, persona_name="", engine="start-up check")
    try:
        _sign_stream(io.BytesIO(sample.getvalue()), io.BytesIO(), content_type="audio/wav", claim=claim, title="check")
    except SigningFailed as exc:
        source = "the local C2PA certificate" if credentials.local else "C2PA_SIGNING_CERT and C2PA_SIGNING_KEY"
        raise ImproperlyConfigured(f"{source} cannot sign: {exc}") from None


# -- signing ---------------------------------------------------------------------------------------------------


@cache
def platform_version() -> str:
    """The project's version (pyproject.toml), as the manifest's claim generator names it."""
    try:
        return tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def manifest_definition(claim: ProvenanceClaim, *, title: str) -> dict[str, Any]:
    """The manifest a generated file carries: made by a trained model, by which engine of this platform, of
    which persona, under which consent."""
    persona = None if claim.persona_id is None else {"id": claim.persona_id, "name": claim.persona_name}
    made = {"persona": persona, "consent": dict(claim.consent), "engine": claim.engine}
    if claim.audio_origin:
        made["audio_origin"] = claim.audio_origin
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": platform_version(), "engine": claim.engine}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": f"{GENERATOR} {platform_version()}", "engine": claim.engine},
                        }
                    ]
                },
            },
            {"label": PERSONA_ASSERTION, "data": made},
        ],
    }


def content_type_for(extension: str) -> str:
    try:
        return CONTENT_TYPES[extension.lower().lstrip(".")]
    except KeyError:
        raise SigningFailed(f"Cannot sign a .{extension} file: the platform signs {SUPPORTED}.") from None


def sign(path: Path, *, fmt: str, claim: ProvenanceClaim) -> None:
    """Sign the file in place: the signed copy is written beside it and replaces it only once whole, so a
    failure (SigningFailed) leaves the file as it was."""
    path = Path(path)
    content_type = content_type_for(fmt)
    signed = path.with_name(f".{path.name}.signed")
    try:
        with path.open("rb") as source, signed.open("w+b") as target:
            _sign_stream(source, target, content_type=content_type, claim=claim, title=f"{path.stem}.{fmt}")
        os.replace(signed, path)
    except OSError as exc:
        raise SigningFailed(f"The output could not be signed: {exc}") from exc
    finally:
        signed.unlink(missing_ok=True)


def _sign_stream(source: BinaryIO, target: BinaryIO, *, content_type: str, claim: ProvenanceClaim, title: str) -> None:
    import c2pa  # heavy: the native C2PA library (~80 ms) loads when a process first signs or reads

    try:
        credentials = signing_credentials()
    except ImproperlyConfigured as exc:  # the certificate changed under a running process
        raise SigningFailed(f"The output could not be signed: {exc}") from exc
    context = c2pa.Context.from_dict(
        {
            "builder": {"thumbnail": {"enabled": False}},
            "verify": {"verify_after_sign": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
        }
    )
    try:
        info = c2pa.C2paSignerInfo(credentials.algorithm, credentials.chain_pem, credentials.key_pem, None)
        definition = manifest_definition(claim, title=title)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(definition, context=context) as builder:
            builder.sign(signer, content_type, source, target)
    except c2pa.C2paError as exc:
        raise SigningFailed(f"The output could not be signed (C2PA: {exc}).") from exc
    finally:
        context.close()


# -- reading and verifying -------------------------------------------------------------------------------------


def unsigned() -> dict[str, Any]:
    return {"signed": False, "valid": False, "altered": False, "manifest": None}


def read(data: bytes | BinaryIO, content_type: str) -> dict[str, Any]:
    """`{"signed", "valid", "altered", "manifest"}` of a file: `signed` when it carries a manifest this platform
    made, `valid` when that manifest validates and chains to our trust anchor, `altered` when the media or the
    manifest changed after signing. UnsupportedMedia for a file C2PA cannot parse as `content_type`."""
    import c2pa  # heavy: the native C2PA library (~80 ms) loads when a process first signs or reads

    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    context = c2pa.Context.from_dict(
        {
            "trust": {"trust_anchors": signing_credentials().anchors_pem.decode()},
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        }
    )
    try:
        with c2pa.Reader(content_type, stream, context=context) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return unsigned()
    except c2pa.C2paError as exc:
        raise UnsupportedMedia(f"file: not a readable {content_type} file ({exc}).") from None
    finally:
        context.close()
    manifest = store.get("manifests", {}).get(store.get("active_manifest"))
    if manifest is None:
        return unsigned()
    failures = {status["code"] for status in _failures(store)}
    generators = manifest.get("claim_generator_info") or [{}]
    return {
        "signed": generators[0].get("name") == GENERATOR,
        "valid": store.get("validation_state") == "Trusted" and not failures,
        "altered": any(code in failures for code in ALTERED_CODES),
        "manifest": manifest,
    }


def _failures(store: dict) -> list[dict]:
    results = store.get("validation_results") or {}
    return [*(results.get("activeManifest") or {}).get("failure", []), *store.get("validation_status", [])]


def verify(data: bytes) -> dict[str, Any]:
    """`read()` of an uploaded file, whose type is told by its bytes, never by its name."""
    content_type = media_type_of(data[:16])
    if content_type is None or content_type not in CONTENT_TYPES.values():
        raise UnsupportedMedia(f"file: not a supported media type; the platform signs {SUPPORTED} files.")
    return read(data, content_type)


def persona_assertion(manifest: dict | None) -> dict[str, Any]:
    """The platform's own assertion in a manifest (persona, consent, engine, audio origin); {} if absent."""
    for assertion in (manifest or {}).get("assertions", []):
        if assertion.get("label") == PERSONA_ASSERTION:
            return assertion.get("data") or {}
    return {}
