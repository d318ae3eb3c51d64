#!/usr/bin/env bash
# Requests signed with AWS SigV4 by a real client (curl --aws-sigv4, which
# signs as the AWS SDKs do) against a keys-required instance:
#   1. a key made with "aws": true has an access key id (listed) and a
#      secret access key (shown once, never listed);
#   2. a good signature is served; a wrong secret is 403 invalid_signature,
#      an unknown access key id 403 unrecognized_client;
#   3. a signed body (POST /functions) is verified and the handler still
#      reads it;
#   4. scopes and the key's function list apply as for Bearer keys;
#   5. a revoked key's next signed request is refused;
#   6. on an instance with keys optional, dummy credentials are served as
#      no key, while a known id with a wrong secret is still 403.
# The clock skew and tampered requests are unit tests (test_sigv4): curl
# sets X-Amz-Date itself.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

export MINILAMBDA_AUTH=on MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=2
it_start sigv4
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")

# awskey BODY: make a key as the admin; its id, access key id and secret
# into KID, AKID, SECRET.
awskey() {
    it_as_json "$ADMIN" POST /keys "$1"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys $1: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
    KID=$(it_jq .id)
    AKID=$(it_jq .aws_access_key_id)
    SECRET=$(it_jq .aws_secret_access_key)
}

# signed ID SECRET METHOD PATH [curl args...]: a request signed by curl.
signed() {
    local id=$1 secret=$2 method=$3 path=$4
    shift 4
    it_req "$method" "$path" --aws-sigv4 "aws:amz:us-east-1:lambda" --user "$id:$secret" "$@"
}

# --- 1. the credentials --------------------------------------------------------
awskey '{"name":"reader","scopes":["read"],"aws":true}'
it_true "the access key id is 20 upper-case letters and digits" \
    grep -Eqx '[A-Z0-9]{20}' <<<"$AKID"
it_eq "the secret access key is 40 characters" "${#SECRET}" 40
READER_KID=$KID READER_AKID=$AKID READER_SECRET=$SECRET
it_as "$ADMIN" GET /keys
it_eq "GET /keys shows the access key id" \
    "$(it_jq ".[] | select(.id == \"$READER_KID\") | .aws_access_key_id")" \
    "$READER_AKID"
it_true "GET /keys never shows the secret, plain or sealed" \
    sh -c "! grep -q -e '$READER_SECRET' -e aws_secret '$IT_BODY'"
it_true "keys.json does not hold the secret" \
    sh -c "! grep -q -e '$READER_SECRET' '$MINILAMBDA_DATA_DIR/keys.json'"
it_eq "keys.seal is private" "$(stat -c %a "$MINILAMBDA_DATA_DIR/keys.seal")" 600

# --- 2. good, wrong, unknown ---------------------------------------------------
signed "$READER_AKID" "$READER_SECRET" GET /functions
it_expect "a good signature is served" 200
signed "$READER_AKID" "${READER_SECRET%?}x" GET /functions
it_expect "a wrong secret is 403 invalid_signature" 403 invalid_signature
signed MLAKAAAAAAAAAAAAAAAA "$READER_SECRET" GET /functions
it_expect "an unknown access key id is 403 unrecognized_client" 403 unrecognized_client
it_req GET /functions -H "Authorization: AWS4-HMAC-SHA256 Credential=x"
it_expect "a malformed SigV4 header is 400 incomplete_signature" 400 incomplete_signature
it_req GET /functions -H "Authorization: AWS4-HMAC-SHA256 Credential=$READER_AKID/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" \
    -H "X-Amz-Date: 20150830T123600Z"
it_expect "a signature from 2015 is 403 signature_expired" 403 signature_expired

# --- 3. a signed body ----------------------------------------------------------
awskey '{"name":"deployer","scopes":["deploy"],"aws":true}'
DEPLOY_AKID=$AKID DEPLOY_SECRET=$SECRET
cmd=$(jq -cn '["cat"]')
for f in fa fb; do
    signed "$DEPLOY_AKID" "$DEPLOY_SECRET" POST /functions -H 'Content-Type: application/json' \
        --data-binary "{\"name\":\"$f\",\"image\":\"$IT_BUSYBOX\",\"command\":$cmd}"
    it_expect "a signed POST /functions ($f) is verified and its body read" 201
done
signed "$DEPLOY_AKID" "$DEPLOY_SECRET" POST /functions -H 'Content-Type: application/json' \
    -H 'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD' \
    --data-binary "{\"name\":\"fc\",\"image\":\"$IT_BUSYBOX\",\"command\":$cmd}"
it_expect "UNSIGNED-PAYLOAD is refused" 400 content_sha256_mismatch

# --- 4. scopes and function lists ---------------------------------------------
signed "$READER_AKID" "$READER_SECRET" POST /functions -H 'Content-Type: application/json' \
    --data-binary "{\"name\":\"fd\",\"image\":\"$IT_BUSYBOX\"}"
it_expect "a read key's signed POST /functions is 403 forbidden" 403 forbidden
awskey '{"name":"only-fa","scopes":["read"],"functions":["fa"],"aws":true}'
signed "$AKID" "$SECRET" GET /functions/fa
it_expect "a limited key reads its function" 200
signed "$AKID" "$SECRET" GET /functions/fb
it_expect "a limited key does not see another function" 404 not_found
signed "$AKID" "$SECRET" GET /functions
it_eq "a limited key lists only its functions" "$(it_jq '[.[].name] | join(",")')" fa

# --- the real AWS CLI (Debian's awscli) ---------------------------------------
# lambda_cli ID SECRET ARGS...: /usr/bin/aws lambda against this instance;
# its output in $IT_BODY, its exit status in CLI_RC.
lambda_cli() {
    local id=$1 secret=$2
    shift 2
    CLI_RC=0
    AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret AWS_CONFIG_FILE=/dev/null \
        AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true \
        timeout 60 /usr/bin/aws lambda "$@" --endpoint-url "$BASE" --region us-east-1 \
        --output json >"$IT_BODY" 2>"$IT_TMP/cli.err" || CLI_RC=$?
}
if [ -x /usr/bin/aws ]; then
    lambda_cli "$READER_AKID" "$READER_SECRET" list-functions
    it_eq "aws lambda list-functions: its signature verifies (exit 0)" "$CLI_RC" 0
    it_eq "aws lambda list-functions lists the functions" \
        "$(it_jq '[.Functions[].FunctionName] | sort | join(",")')" "fa,fb"
    lambda_cli "$READER_AKID" "$READER_SECRET" get-function --function-name \
        "arn:aws:lambda:us-east-1:000000000000:function:fa"
    it_eq "aws lambda get-function by ARN (a double-encoded path) verifies" "$CLI_RC" 0
    lambda_cli "$READER_AKID" "${READER_SECRET%?}x" list-functions
    it_true "aws lambda with a wrong secret fails with a signature error" \
        grep -q InvalidSignatureException "$IT_TMP/cli.err"
else
    echo "# /usr/bin/aws is not installed (apt-get install awscli): its checks are skipped"
fi

# --- 5. revocation ------------------------------------------------------------
it_as "$ADMIN" DELETE "/keys/$READER_KID"
it_expect "the reader key is revoked" 204
signed "$READER_AKID" "$READER_SECRET" GET /functions
it_expect "a revoked key's next signed request is 403 unrecognized_client" 403 unrecognized_client

# --- 6. keys optional -----------------------------------------------------------
ml_stop_all
export MINILAMBDA_AUTH=off
it_start optional
signed AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY GET /functions
it_expect "keys optional: dummy credentials are served as no key" 200
it_json POST /keys '{"name":"k","scopes":["read"],"aws":true}'
it_expect "keys optional: a key with AWS credentials is made" 201
AKID=$(it_jq .aws_access_key_id)
signed "$AKID" wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY GET /functions
it_expect "keys optional: a known id with a wrong secret is still 403" 403 invalid_signature

it_done
