// An example handler for the real AWS Lambda Node.js runtime interface
// client (aws-lambda-ric from npm) on minilambda (protocol "lambda"):
// exports.handler = async (event, context), as on AWS Lambda.
//
//   {"name": "x"}    -> {"greeting": "hello, x", "request_id", "remaining_ms", ...}
//   {"fail": "why"}  -> throws an Error named "ExampleError": a function error
//   {"sleep": 3}     -> waits that many seconds first, for timeouts
"use strict";

class ExampleError extends Error {
    constructor(message) {
        super(message);
        this.name = "ExampleError";
    }
}

exports.handler = async (event, context) => {
    const ev = event !== null && typeof event === "object" ? event : {};
    console.log(`handling ${context.awsRequestId}`);
    if ("fail" in ev) {
        throw new ExampleError(String(ev.fail));
    }
    if ("sleep" in ev) {
        await new Promise((resolve) => setTimeout(resolve, Number(ev.sleep) * 1000));
    }
    return {
        greeting: `hello, ${ev.name ?? "world"}`,
        request_id: context.awsRequestId,
        function_name: context.functionName,
        function_version: context.functionVersion,
        memory_limit_in_mb: context.memoryLimitInMB,
        invoked_function_arn: context.invokedFunctionArn,
        log_group_name: context.logGroupName,
        remaining_ms: context.getRemainingTimeInMillis(),
        node: process.version,
    };
};
