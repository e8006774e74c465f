"""Regenerates sigv4_kms.json with botocore, AWS's own SigV4 implementation.

Run with the test virtualenv's python (scripts/python-env.sh installs botocore
with moto): `python crates/strongroom-integrations/tests/vectors/sigv4_kms.py > crates/strongroom-integrations/tests/vectors/sigv4_kms.json`.
Each case is a KMS call as Strongroom sends it (the headers object_store's
signer adds included), for one shape of endpoint.
"""

import datetime
import hashlib
import json
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TIME = "20261123T120000Z"
BODY = '{"KeyId":"alias/strongroom","Plaintext":"AAECAw=="}'
CASES = [
    ("custom endpoint with a port", "http://127.0.0.1:5000", "us-east-1", None),
    ("default AWS endpoint", "https://kms.eu-west-1.amazonaws.com", "eu-west-1", None),
    ("explicit default port", "https://kms.eu-west-1.amazonaws.com:443", "eu-west-1", None),
    ("path prefix behind a gateway", "https://gateway.example.com:8443/aws/kms", "eu-west-1", None),
    ("temporary credentials", "https://kms.eu-west-1.amazonaws.com", "eu-west-1", "FQoGZXIvYXdzEXAMPLETOKEN"),
]


def sign(endpoint, region, token):
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(
        method="POST",
        url=endpoint,
        data=BODY.encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.Encrypt",
            "X-Amz-Content-SHA256": hashlib.sha256(BODY.encode()).hexdigest(),
        },
    )
    fixed = datetime.datetime.strptime(TIME, "%Y%m%dT%H%M%SZ")
    auth = SigV4Auth(credentials, "kms", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
        auth.add_auth(request)
    # The canonical request as botocore built it, without the header it added last.
    added = request.headers["Authorization"]
    del request.headers["Authorization"]
    assert auth_header(auth, request) == added
    return auth.canonical_request(request), added


def auth_header(auth, request):
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    return f"AWS4-HMAC-SHA256 Credential={auth.scope(request)}, SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))}, Signature={signature}"


vectors = []
for name, endpoint, region, token in CASES:
    canonical, authorization = sign(endpoint, region, token)
    vectors.append(
        {
            "name": name,
            "endpoint": endpoint,
            "region": region,
            "session_token": token,
            "body": BODY,
            "time": TIME,
            "canonical_request": canonical,
            "authorization": authorization,
        }
    )
print(json.dumps({"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "vectors": vectors}, indent=2))
