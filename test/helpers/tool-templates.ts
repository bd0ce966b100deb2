/**
 * Small chat templates in the style of real tool-calling models, for generated test models: each renders
 * `tools`, assistant `tool_calls` (arguments as a mapping) and `tool` results the way its family does.
 * They keep ChatML's <|im_start|>/<|im_end|> where the test vocabulary needs real special tokens.
 */

/** Qwen 2.5 / Hermes: tools in the system turn, calls in <tool_call> tags, results in <tool_response>. */
export const HERMES_TOOLS_TEMPLATE = `
{%- if tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}{% else %}You are a helpful assistant.{% endif %}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% elif messages[0].role == 'system' %}<|im_start|>system
{{ messages[0].content }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant
{%- if message.content %}
{{ message.content }}{% endif %}
{%- for tool_call in message.tool_calls %}
<tool_call>
{"name": "{{ tool_call.function.name }}", "arguments": {{ tool_call.function.arguments | tojson }}}
</tool_call>
{%- endfor %}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

/** Llama 3.1 / 3.2: JSON calls with "parameters", results as `ipython` turns. */
export const LLAMA3_TOOLS_TEMPLATE = `{{- bos_token }}
{%- if tools %}<|im_start|>system
Environment: ipython
You have access to the following functions. To call a function, respond with JSON for a function call.
Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.
{% for tool in tools %}{{ tool | tojson }}

{% endfor %}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'assistant' and message.tool_calls %}
{%- set tool_call = message.tool_calls[0].function %}<|im_start|>assistant
{"name": "{{ tool_call.name }}", "parameters": {{ tool_call.arguments | tojson }}}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>ipython
{{ message.content }}<|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

/** Mistral v3: [AVAILABLE_TOOLS] before the last user turn, [TOOL_CALLS] lists, [TOOL_RESULTS]. */
export const MISTRAL_TOOLS_TEMPLATE = `{{- bos_token }}
{%- for message in messages %}
{%- if message.role == 'user' %}
{%- if loop.last and tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}[INST]{{ message.content }}[/INST]
{%- elif message.role == 'system' %}[SYSTEM_PROMPT]{{ message.content }}[/SYSTEM_PROMPT]
{%- elif message.role == 'assistant' and message.tool_calls %}[TOOL_CALLS][
{%- for tc in message.tool_calls %}{"name": "{{ tc.function.name }}", "arguments": {{ tc.function.arguments | tojson }}, "id": "{{ tc.id }}"}{% if not loop.last %}, {% endif %}{% endfor %}]<|im_end|>
{%- elif message.role == 'assistant' %}{{ message.content }}<|im_end|>
{%- elif message.role == 'tool' %}[TOOL_RESULTS]{"content": {{ message.content | tojson }}, "call_id": "{{ message.tool_call_id }}"}[/TOOL_RESULTS]
{%- endif %}
{%- endfor %}`

/**
 * Qwen3 style thinking ChatML: earlier thoughts shown as `<think>` blocks, `documents` in a system turn,
 * and with `enable_thinking: false` an empty thinking segment after the generation prompt (so the model
 * answers at once), as Qwen3's own template does.
 */
export const THINKING_TEMPLATE = `
{%- if documents %}<|im_start|>system
Documents:
{%- for d in documents %}
{{ d.title }}: {{ d.text }}
{%- endfor %}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'assistant' %}<|im_start|>assistant
{% if message.reasoning_content %}<think>
{{ message.reasoning_content }}
</think>

{% endif %}{{ message.content }}<|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking is false %}<think>

</think>

{% endif %}{% endif %}`

/** Kimi K2: a named format (the name as text, `functions.<name>:<index>`, then the arguments object). */
export const KIMI_TOOLS_TEMPLATE = `
{%- if tools %}<|im_start|>system
# Tools
{{ tools | tojson }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant
<|tool_calls_section_begin|>
{%- for tc in message.tool_calls %}<|tool_call_begin|>functions.{{ tc.function.name }}:{{ loop.index0 }}<|tool_call_argument_begin|>{{ tc.function.arguments | tojson }}<|tool_call_end|>
{%- endfor %}<|tool_calls_section_end|><|im_end|>
{% elif message.role == 'tool' %}<|im_start|>tool
{{ message.content }}<|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}`
