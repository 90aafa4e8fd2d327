"""One warm Lambda execution environment: imports a handler once, runs invocations.

Protocol: one JSON object per line on stdin ({"handler", "event", "request_id",
"deadline_ms"}), one per line on the protocol pipe (the original stdout). The
handler's own prints and logs go to stderr, like a function's CloudWatch stream.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LocalContext:
    """The attributes of the Lambda context object handlers and powertools read."""

    def __init__(self, request_id: str, deadline_ms: int):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = os.environ.get("DRILLKIT_LAB_FUNCTION_ARN", "")
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "lab"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    handlers: dict[str, Any] = {}
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        name = request["handler"]
        try:
            if name not in handlers:
                module_name, function_name = name.rsplit(".", 1)
                handlers[name] = getattr(importlib.import_module(module_name), function_name)
            result = handlers[name](request["event"], LocalContext(request["request_id"], request["deadline_ms"]))
            reply = {"ok": True, "result": result}
        except Exception as error:  # noqa: BLE001 reported to the caller exactly as the Lambda runtime would
            reply = {
                "ok": False,
                "error": {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_exception(error)[-8:],
                },
            }
        try:
            protocol.write(json.dumps(reply, default=str) + "\n")
        except (TypeError, ValueError) as error:
            protocol.write(
                json.dumps({"ok": False, "error": {"errorMessage": str(error), "errorType": "Runtime.MarshalError"}}) + "\n"
            )


if __name__ == "__main__":
    main()
