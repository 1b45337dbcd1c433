#!/usr/bin/env bash
# Resolve Apache Jena Fuseki Main from Maven Central (ops/fuseki/pom.xml names the version) into a
# cache folder, once, and print that folder's lib/ directory: `java -cp "$(ensure-fuseki.sh)/*"
# org.apache.jena.fuseki.main.cmds.FusekiMainCmd --conf ops/fuseki/config.ttl` runs it.
# The cache is $ARCA_CACHE_DIR (default ~/.cache/arca); nothing is downloaded from anywhere but
# Maven Central (through Maven's own client and its ~/.m2 repository).
set -euo pipefail
cd "$(dirname "$0")/.."

pom=ops/fuseki/pom.xml
version=$(sed -n 's:.*<jena.version>\(.*\)</jena.version>.*:\1:p' "$pom")
cache="${ARCA_CACHE_DIR:-$HOME/.cache/arca}/fuseki-$version"
lib="$cache/lib"

if [ ! -f "$cache/.complete" ] || [ "$pom" -nt "$cache/.complete" ]; then
  command -v java >/dev/null 2>&1 || { echo "ensure-fuseki: java (17) is missing" >&2; exit 1; }
  command -v mvn >/dev/null 2>&1 || { echo "ensure-fuseki: mvn (Maven) is missing" >&2; exit 1; }
  echo "ensure-fuseki: resolving Fuseki Main $version with Maven into $lib" >&2
  rm -rf "$lib"; mkdir -p "$lib"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib" >&2 \
    || { echo "ensure-fuseki: Maven could not resolve Fuseki Main $version" >&2; exit 1; }
  ls "$lib"/jena-fuseki-main-"$version".jar >/dev/null \
    || { echo "ensure-fuseki: jena-fuseki-main-$version.jar missing after resolution" >&2; exit 1; }
  touch "$cache/.complete"
fi
echo "ensure-fuseki: Fuseki Main $version is in $lib" >&2
echo "$lib"
