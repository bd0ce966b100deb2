"""Reference chat-template rendering for the golden template test (test/chat-template-fidelity.test.ts).

Renders Jinja chat templates exactly as Hugging Face transformers' `apply_chat_template` does
(transformers/utils/chat_template_utils.py, `_compile_jinja_template` and `render`): an immutable sandboxed
environment with trim_blocks, lstrip_blocks and the loopcontrols extension, a `{% generation %}` tag that
renders its body, `tojson` with transformers' options (ensure_ascii off, indent, separators, sort_keys),
`raise_exception` raising a TemplateError and `strftime_now` reading the clock (fixed here by the caller,
so both renderers see one date). The caller's context is passed as given; gguf-serve leaves `tools` and
`documents` undefined when there are none (transformers passes None), so the cases do the same.

Input on stdin, JSON: {"now": <unix seconds>, "templates": {name: source}, "cases": {name: context}}.
Output on stdout, JSON: {template: {case: {"text": str} | {"error": str}}}.
"""

import json
import sys
from datetime import datetime, timezone

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    """transformers' AssistantTracker without the tracking: `{% generation %}…{% endgeneration %}` is its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def main():
    request = json.load(sys.stdin)
    now = datetime.fromtimestamp(request["now"], tz=timezone.utc)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now

    results = {}
    for name, source in request["templates"].items():
        results[name] = {}
        try:
            template = env.from_string(source)
        except Exception as error:  # noqa: BLE001 - a template that does not parse fails every case
            for case in request["cases"]:
                results[name][case] = {"error": f"{type(error).__name__}: {error}"}
            continue
        for case, context in request["cases"].items():
            try:
                results[name][case] = {"text": template.render(**context)}
            except Exception as error:  # noqa: BLE001 - reported per case, compared by the test
                results[name][case] = {"error": f"{type(error).__name__}: {error}"}
    json.dump(results, sys.stdout, ensure_ascii=False)


main()
