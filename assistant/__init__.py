"""A local, private question-answering assistant whose every citation is checked by the program."""

import os

# Nothing leaves the machine: these libraries phone home unless told not to, so the project sets
# the switches itself before any of them is imported.
for _name, _value in {
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[_name] = _value

from assistant.api import Assistant  # noqa: E402  (after the switches above)
from assistant.schema import Answer, Citation, IngestReport  # noqa: E402

__all__ = ["Answer", "Assistant", "Citation", "IngestReport"]
