#!/usr/bin/env bash
# Refreshes graphiql/assets/: the prebuilt bundles of GraphiQL (UMD, with its
# CSS; it bundles graphql-js and the graphql-ws client) and of React and
# ReactDOM (UMD, production builds) that the graphiql package embeds and serves,
# so that GraphiQL loads with no network beyond the server. They are vendored:
# commit the result. It fetches the three npm packages' tarballs (npm pack:
# checked against the registry's integrity, no dependencies, no install
# scripts), copies the bundles without their sourceMappingURL comments (the maps
# are not served), the licenses, and writes assets/README.md with the versions,
# the tarballs' integrity and each file's SHA-256.
#
# To move to other versions, change them below, run this script, then
# `go test ./graphiql/` and the browser test (go test -run TestGraphiQLBrowser ./e2e/).
# React 18 is the last React with UMD builds; GraphiQL 3 is the last GraphiQL
# with a UMD build that runs on React 18 without a bundler.
set -euo pipefail

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1

here="$(cd "$(dirname "$0")" && pwd)"
out="$here/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --json --silent "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" >pack.json
for t in *.tgz; do
  mkdir "${t%.tgz}"
  tar -xzf "$t" -C "${t%.tgz}"
done
# Vendored file (as served), its npm package and version, its path in the package.
files=(
  "graphiql.min.js graphiql $GRAPHIQL_VERSION graphiql.min.js"
  "graphiql.min.css graphiql $GRAPHIQL_VERSION graphiql.min.css"
  "react.production.min.js react $REACT_VERSION umd/react.production.min.js"
  "react-dom.production.min.js react-dom $REACT_VERSION umd/react-dom.production.min.js"
)
rm -f "$out"/*.js "$out"/*.css "$out"/LICENSE-*
mkdir -p "$out"
for f in "${files[@]}"; do
  read -r name pkg version path <<<"$f"
  # Drop source map comments (/*# ... */ in CSS, //# ... in JS): the maps are not vendored.
  sed -E -e 's@//# sourceMappingURL=[^ ]*$@@' -e 's@/\*# sourceMappingURL=[^*]*\*/@@' \
    "$work/$pkg-$version/package/$path" >"$out/$name"
  cp "$work/$pkg-$version/package/LICENSE" "$out/LICENSE-$pkg"
done

integrity() { # name version
  node -e 'const p = JSON.parse(require("fs").readFileSync("pack.json", "utf8"));
    const e = p.find((x) => x.name === process.argv[1] && x.version === process.argv[2]);
    if (!e) process.exit(1);
    console.log(e.integrity);' "$1" "$2"
}

{
  echo "# Vendored GraphiQL assets"
  echo
  echo "Written by \`graphiql/update-assets.sh\`: do not edit by hand; change the versions in the"
  echo "script and run it to refresh. The graphiql package embeds the \`.js\` and \`.css\` files"
  echo "(go:embed) and serves them under content-hashed URLs (\`/graphiql/<name>.<hash>.<ext>\`)."
  echo
  echo "| npm package | version | tarball integrity | license |"
  echo "|---|---|---|---|"
  echo "| graphiql | $GRAPHIQL_VERSION | \`$(integrity graphiql "$GRAPHIQL_VERSION")\` | MIT, \`LICENSE-graphiql\` |"
  echo "| react | $REACT_VERSION | \`$(integrity react "$REACT_VERSION")\` | MIT, \`LICENSE-react\` |"
  echo "| react-dom | $REACT_VERSION | \`$(integrity react-dom "$REACT_VERSION")\` | MIT, \`LICENSE-react-dom\` |"
  echo
  echo "| file | from | SHA-256 |"
  echo "|---|---|---|"
  for f in "${files[@]}"; do
    read -r name pkg version path <<<"$f"
    note=""
    cmp -s "$out/$name" "$work/$pkg-$version/package/$path" || note=", without its sourceMappingURL comment"
    echo "| \`$name\` | $pkg@$version \`$path\`$note | \`$(sha256sum "$out/$name" | cut -d' ' -f1)\` |"
  done
  echo
  echo "graphiql.min.js is GraphiQL's UMD bundle: it includes graphql-js, CodeMirror 5 and the"
  echo "graphql-ws client (its \`createFetcher\` opens the WebSocket for subscriptions) and expects"
  echo "\`React\` and \`ReactDOM\` as globals. graphiql.min.css carries its fonts and images as"
  echo "\`data:\` URLs."
} >"$out/README.md"

echo "assets refreshed in $out:" >&2
ls -l "$out" >&2
