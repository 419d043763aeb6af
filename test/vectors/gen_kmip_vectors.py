#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes kmip_vectors.txt: the TTLV examples of the KMIP 1.2 specification (section 9.1.2) and
# whole KMIP 1.2 request and response messages encoded by an independent implementation,
# PyKMIP 0.10 (Debian python3-pykmip), so test/unit/test_kmip.c checks common/ttlv.c and
# common/kmip.c against it. Deterministic: run it again and the file does not change.
import sys
import warnings

warnings.simplefilter("ignore")  # PyKMIP's crypto engine imports deprecated ciphers

from kmip.core import enums, primitives, utils  # noqa: E402
from kmip.core.factories import attributes as attribute_factory  # noqa: E402
from kmip.core.messages import contents, messages, payloads  # noqa: E402
from kmip.core import attributes  # noqa: E402

V12 = enums.KMIPVersion.KMIP_1_2
T = enums.Tags(0x420020)
FAC = attribute_factory.AttributeFactory()
# What common/root_kmip.c sends as the Encrypt data and as the root id's IV.
PRF_INPUT = b"pgkms kmip prf 1pgkms kmip prf 2"
ID_SALT = b"pgkms root id v1"


def enc(obj):
    s = utils.BytearrayStream()
    obj.write(s, kmip_version=V12)
    return bytes(s.buffer)


# KMIP 1.2 spec 9.1.2, byte for byte; those PyKMIP can express are re-encoded and compared.
SPEC = [
    ("int8", "42002002000000040000000800000000", primitives.Integer(8, tag=T)),
    ("long", "420020030000000801b69b4ba5749200",
     primitives.LongInteger(123456789000000000, tag=T)),
    ("bigint", "42002004000000100000000003fd35eb6bc2df4618080000",
     primitives.BigInteger(1234567890000000000000000000, tag=T)),
    ("enum255", "4200200500000004000000ff00000000", None),
    ("true", "42002006000000080000000000000001", primitives.Boolean(True, tag=T)),
    ("text", "420020070000000b48656c6c6f20576f726c640000000000",
     primitives.TextString("Hello World", tag=T)),
    ("bytes", "42002008000000030102030000000000", primitives.ByteString(b"\x01\x02\x03", tag=T)),
    ("datetime", "42002009000000080000000047da67f8", primitives.DateTime(0x47DA67F8, tag=T)),
    ("interval", "4200200a00000004000d2f0000000000", primitives.Interval(864000, tag=T)),
    ("struct", "4200200100000020" "4200040500000004000000fe00000000"
     "4200050200000004000000ff00000000", None),
]

REQ_HEADER = messages.RequestHeader(protocol_version=contents.ProtocolVersion(1, 2),
                                    batch_count=contents.BatchCount(1))


def request(op, payload):
    item = messages.RequestBatchItem(operation=contents.Operation(op), request_payload=payload)
    return enc(messages.RequestMessage(request_header=REQ_HEADER, batch_items=[item]))


def response(op, payload=None, status=enums.ResultStatus.SUCCESS, reason=None, message=None):
    header = messages.ResponseHeader(protocol_version=contents.ProtocolVersion(1, 2),
                                     time_stamp=contents.TimeStamp(0x5F5E1000),
                                     batch_count=contents.BatchCount(1))
    item = messages.ResponseBatchItem(
        operation=contents.Operation(op) if op is not None else None,
        result_status=contents.ResultStatus(status),
        result_reason=contents.ResultReason(reason) if reason is not None else None,
        result_message=contents.ResultMessage(message) if message is not None else None,
        response_payload=payload)
    return enc(messages.ResponseMessage(response_header=header, batch_items=[item]))


def attr(name, value):
    return FAC.create_attribute(name, value)


def main():
    out = ["# KMIP TTLV vectors (KMIP 1.2), written by gen_kmip_vectors.py with PyKMIP 0.10.",
           "# spec-*: KMIP 1.2 spec 9.1.2 examples (tag 420020). req-*: requests as common/kmip.c",
           "# must build them. resp-*: responses common/kmip.c must parse (fields to expect)."]
    for name, hexstr, obj in SPEC:
        if obj is not None and enc(obj).hex() != hexstr:
            sys.exit(f"PyKMIP encodes spec example {name} as {enc(obj).hex()}")
        out.append(f"name=spec-{name} hex={hexstr}")

    out.append("name=req-locate ref=pgkms-root hex=" + request(
        enums.Operation.LOCATE,
        payloads.LocateRequestPayload(maximum_items=2, attributes=[
            attr(enums.AttributeType.NAME, "pgkms-root")])).hex())
    names = ["State", "Cryptographic Algorithm", "Cryptographic Length"]
    out.append("name=req-get-attributes uid=1 hex=" + request(
        enums.Operation.GET_ATTRIBUTES,
        payloads.GetAttributesRequestPayload(unique_identifier="1",
                                             attribute_names=names)).hex())
    params = attributes.CryptographicParameters(
        block_cipher_mode=enums.BlockCipherMode.CBC, padding_method=enums.PaddingMethod.PKCS5,
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES)
    out.append(f"name=req-encrypt uid=1 iv={ID_SALT.hex()} data={PRF_INPUT.hex()} hex=" + request(
        enums.Operation.ENCRYPT,
        payloads.EncryptRequestPayload(unique_identifier="1", cryptographic_parameters=params,
                                       data=PRF_INPUT, iv_counter_nonce=ID_SALT)).hex())

    state = attr(enums.AttributeType.STATE, enums.State.ACTIVE)
    alg = attr(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES)
    length = attr(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256)
    out.append("name=resp-get-attributes op=0b status=0 state=2 alg=3 bits=256 hex=" + response(
        enums.Operation.GET_ATTRIBUTES,
        payloads.GetAttributesResponsePayload(unique_identifier="1",
                                              attributes=[state, alg, length])).hex())
    revoked = attr(enums.AttributeType.STATE, enums.State.DEACTIVATED)
    out.append("name=resp-get-attributes-revoked op=0b status=0 state=3 alg=3 bits=256 hex=" +
               response(enums.Operation.GET_ATTRIBUTES,
                        payloads.GetAttributesResponsePayload(
                            unique_identifier="1", attributes=[length, revoked, alg])).hex())
    out.append("name=resp-locate-one op=08 status=0 count=1 uid=1 hex=" + response(
        enums.Operation.LOCATE, payloads.LocateResponsePayload(unique_identifiers=["1"])).hex())
    out.append("name=resp-locate-two op=08 status=0 count=2 uid=12 hex=" + response(
        enums.Operation.LOCATE,
        payloads.LocateResponsePayload(unique_identifiers=["12", "13"])).hex())
    out.append("name=resp-locate-none op=08 status=0 count=0 uid=- hex=" + response(
        enums.Operation.LOCATE, payloads.LocateResponsePayload(unique_identifiers=[])).hex())
    data = bytes(range(48))
    out.append(f"name=resp-encrypt op=1f status=0 data={data.hex()} hex=" + response(
        enums.Operation.ENCRYPT,
        payloads.EncryptResponsePayload(unique_identifier="1", data=data)).hex())
    msg = "The encryption key must be in the Active state to be used for encryption."
    out.append(f"name=resp-denied op=1f status=1 reason=12 message={msg.replace(' ', '_')} hex=" +
               response(enums.Operation.ENCRYPT, status=enums.ResultStatus.OPERATION_FAILED,
                        reason=enums.ResultReason.PERMISSION_DENIED, message=msg).hex())
    out.append("name=resp-not-found op=0b status=1 reason=1 message=Could_not_locate_object:_7 "
               "hex=" + response(None, status=enums.ResultStatus.OPERATION_FAILED,
                                 reason=enums.ResultReason.ITEM_NOT_FOUND,
                                 message="Could not locate object: 7").hex())
    sys.stdout.write("\n".join(out) + "\n")


main()
