/**
 * A stand-in for Rancher's endpoints that a node's registration command reaches, run by the
 * guest suite inside a site's network namespace (`ip netns exec`), over HTTPS with a private CA:
 *
 *   node -r ts-node/register/transpile-only rancherStandIn.ts ADDRESS PORT CERT KEY CA LOG
 *
 * - GET /cacerts: the CA, as Rancher serves its `cacerts` setting;
 * - GET /system-agent-install.sh: a script that does what Rancher's does before it installs the
 *   agent (its flags, a role, root, the CA checksum of /cacerts), then reports the node;
 * - POST /v3/edge-e2e/registrations: the report, appended to LOG as a JSON line.
 */
import { appendFileSync, readFileSync } from "fs";
import * as https from "https";

/**
 * The install script: rancher/system-agent's install.sh takes only the flags its parse_args knows
 * (fatal "Unknown argument passed in" for any other) and at least one role, checks the CA
 * checksum against /cacerts fetched without verification (validate_ca_checksum), then downloads
 * the agent trusting that CA; this one reports the node instead, with curl's default trust, which
 * is the node's system store.
 */
export const installScript = `#!/bin/sh
set -eu
fatal() { echo "[FATAL]  $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fatal "must run as root"
arguments="$*"
server= token= checksum= roles=
while [ $# -gt 0 ]; do
    case "$1" in
    -s | --server) server=$2; shift 2 ;;
    -t | --token) token=$2; shift 2 ;;
    -c | --ca-checksum) checksum=$2; shift 2 ;;
    -p | --controlplane | -e | --etcd | -w | --worker | --no-roles) roles=1; shift ;;
    -n | --node-name | -a | --address | -i | --internal-address | -l | --label | --taint | --taints) shift 2 ;;
    *) fatal "Unknown argument passed in ($1)" ;;
    esac
done
[ -n "$server" ] && [ -n "$token" ] || fatal "--server and --token are required"
[ -n "$roles" ] || fatal "You must select at least one role."
if [ -n "$checksum" ]; then
    actual=$(curl --insecure -fsSL "$server/cacerts" | sha256sum | cut -d' ' -f1)
    [ "$actual" = "$checksum" ] || fatal "Configured cacerts checksum ($actual) does not match given --ca-checksum ($checksum)"
fi
curl -fsS -H "Authorization: Bearer $token" --data-binary "$arguments" "$server/v3/edge-e2e/registrations"
`;

if (require.main === module) {
    const [address, port, cert, key, ca, log] = process.argv.slice(2);
    const caPem = readFileSync(ca, "utf8");
    const server = https.createServer(
        { cert: readFileSync(cert), key: readFileSync(key) },
        (request, response) => {
            let body = "";
            request.on("data", (chunk) => (body += chunk));
            request.on("end", () => {
                if (request.method === "GET" && request.url === "/cacerts") {
                    response.end(caPem);
                } else if (request.method === "GET" && request.url === "/system-agent-install.sh") {
                    response.end(installScript);
                } else if (
                    request.method === "POST" &&
                    request.url === "/v3/edge-e2e/registrations"
                ) {
                    appendFileSync(
                        log,
                        `${JSON.stringify({
                            from: request.socket.remoteAddress,
                            authorization: request.headers.authorization,
                            arguments: body,
                        })}\n`,
                    );
                    response.end("registered\n");
                } else {
                    response.statusCode = 404;
                    response.end();
                }
            });
        },
    );
    server.listen(Number(port), address, () => console.log("listening"));
}
