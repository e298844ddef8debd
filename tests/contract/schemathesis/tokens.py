"""Signs in the three callers the schema fuzzing runs as and prints their
access tokens as shell assignments: the demo platform operator, the demo
tenant's admin, and a learner the admin creates.

Usage: tokens.py BASE_URL
"""

import json
import sys
import urllib.request

OPERATOR = ("operator@platform.test", "demo-password")
ADMIN = ("admin@demo.test", "demo-password")
LEARNER = ("fuzz.learner@demo.test", "fuzz-learner-password")


def call(base, host, method, path, body=None, token=None):
    headers = {"X-Forwarded-Host": host, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def main(base):
    operator = call(base, "admin.localhost", "POST", "/platform/v1/auth/token",
                    {"email": OPERATOR[0], "password": OPERATOR[1]})["access_token"]
    admin = call(base, "demo.localhost", "POST", "/api/v1/auth/token",
                 {"email": ADMIN[0], "password": ADMIN[1]})["access_token"]
    call(base, "demo.localhost", "POST", "/api/v1/users",
         {"email": LEARNER[0], "first_name": "Fuzz", "last_name": "Learner", "password": LEARNER[1]},
         token=admin)
    learner = call(base, "demo.localhost", "POST", "/api/v1/auth/token",
                   {"email": LEARNER[0], "password": LEARNER[1]})["access_token"]
    print(f"OPERATOR_TOKEN={operator}")
    print(f"ADMIN_TOKEN={admin}")
    print(f"LEARNER_TOKEN={learner}")


if __name__ == "__main__":
    main(sys.argv[1])
