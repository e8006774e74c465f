#!/usr/bin/env python3
"""AWS Signature Version 4 of a KMS Encrypt request, computed by botocore (AWS's
own Python implementation) with a fixed time and example credentials. The Rust
signer in crates/strongroom-integrations/src/root_key/aws_kms.rs must produce the same
Authorization header: python3 scripts/vectors/sigv4_kms.py > crates/strongroom-integrations/tests/vectors/sigv4_kms.txt
(run with the venv of scripts/python-env.sh, which has botocore)."""
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BODY = b'{"KeyId":"alias/strongroom","Plaintext":"AAECAw=="}'
request = AWSRequest(method="POST", url="http://127.0.0.1:5000/", data=BODY, headers={
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "TrentService.Encrypt",
})
request.context["timestamp"] = "20261123T120000Z"
request.headers["X-Amz-Date"] = "20261123T120000Z"
auth = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "kms", "us-east-1")
canonical = auth.canonical_request(request)
string_to_sign = auth.string_to_sign(request, canonical)
signature = auth.signature(string_to_sign, request)
headers = ";".join(auth.signed_headers(auth.headers_to_sign(request)).split(";"))
print(f"body: {BODY.decode()}")
print("time: 20261123T120000Z")
print(f"signed_headers: {headers}")
print(f"authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/kms/aws4_request, "
      f"SignedHeaders={headers}, Signature={signature}")
