#!/usr/bin/env bash
# Builds ProVerif 2.04 (GPL-2.0, formal/third-party/proverif/LICENSE) from the vendored source
# archive with Debian's OCaml, into DEST (default: <repo>/.cache/proverif, gitignored), in about ten
# seconds. Does nothing when the binary is already there. Prints the path of the proverif binary.
# Needs: ocaml-nox ocamlbuild ocaml-findlib (apt; .ci/run installs them). Used by
# test/formal/proverif.test.ts; see formal/README.md and docs/adr/0018-proverif-vendored.md.
# usage: scripts/build-proverif.sh [DEST]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
archive=$root/formal/third-party/proverif/proverif2.04.tar.gz
dest=${1:-$root/.cache/proverif}
if [ -x "$dest/proverif2.04/proverif" ]; then echo "$dest/proverif2.04/proverif"; exit 0; fi
for t in ocaml ocamlbuild ocamlfind; do
  command -v "$t" >/dev/null || { echo "build-proverif.sh: $t missing (apt-get install ocaml-nox ocamlbuild ocaml-findlib)" >&2; exit 3; }
done
echo "a96e5ec13f35c9ead7a0e960df69bc4018eb6a46939da501613d9d93cab5fc75  $archive" | sha256sum -c --quiet -
# Build in a scratch directory and move the result into place, so an interrupted build (or two
# test processes building at once) never leaves a half-built tree that looks finished.
mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$(dirname "$dest")/.proverif-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar xzf "$archive" -C "$work"
( cd "$work/proverif2.04" && ./build -nointeract >"$work/build.log" 2>&1 ) || { tail -20 "$work/build.log" >&2; exit 1; }
mkdir -p "$dest"
if [ ! -x "$dest/proverif2.04/proverif" ]; then
  mv "$work/proverif2.04" "$dest/proverif2.04.tmp.$$" && mv -T "$dest/proverif2.04.tmp.$$" "$dest/proverif2.04" 2>/dev/null || true
fi
[ -x "$dest/proverif2.04/proverif" ] || { echo "build-proverif.sh: no binary after the build" >&2; exit 1; }
echo "$dest/proverif2.04/proverif"
