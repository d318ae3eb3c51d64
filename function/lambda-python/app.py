"""An example handler for minilambda's Python handler runtime (protocol
"lambda"): handler(event, context), as on AWS Lambda.

  {"name": "x"}                 -> {"greeting": "hello, x", ...}
  {"fail": "why"}               -> raises ValueError: a function error
  {"sleep": 3}                  -> sleeps, for timeouts
  {"big": 7000000}              -> a string of that many bytes (past 6 MiB:
                                   Function.ResponseSizeTooLarge)
"""
import time


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    print(f"handling {context.aws_request_id}")
    if "fail" in event:
        raise ValueError(str(event["fail"]))
    if "big" in event:
        return "x" * int(event["big"])
    if "sleep" in event:
        time.sleep(float(event["sleep"]))
    return {
        "greeting": f"hello, {event.get('name', 'world')}",
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context": context.client_context.custom if context.client_context else None,
    }
