#!/bin/sh
# Regenerates ../traces from the programs beside this script, with the runtimes on PATH
# (Java 17, Python 3.11+, Go, Node.js 20, Ruby, PHP): sh gen.sh
# Each trace file is what one run printed on its standard error, unchanged. The programs run
# from $APP (default /tmp/app), so the paths in the traces do not depend on the checkout.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../traces"
app=${APP:-/tmp/app}
rm -rf "$app" && mkdir -p "$app" "$out"
cp "$here"/java/Gen.java "$here"/python/gen.py "$here"/go/main.go "$here"/node/gen.js \
   "$here"/ruby/gen.rb "$here"/php/gen.php "$app"/
cd "$app" || exit 1
javac Gen.java || exit 1
go mod init gen >/dev/null 2>&1
go build -o gen-go . || exit 1

record() { # record NAME COMMAND...: the command's standard error into NAME.txt
	name=$1
	shift
	"$@" 2>"$out/$name.txt" >/dev/null || : # most of them exit with an error, as meant
}

for m in uncaught printstacktrace jul multiline-message thread; do record "java-$m" java Gen "$m"; done
for m in uncaught logged-cause logged-during group; do record "python-$m" python3 gen.py "$m"; done
record go-panic env GOTRACEBACK=all ./gen-go panic
record go-nil go run . nil
record go-logpanic ./gen-go logpanic
record go-recovered ./gen-go recovered
record go-deadlock ./gen-go deadlock
for m in uncaught console-cause undefined enoent; do record "node-$m" node gen.js "$m"; done
record ruby-uncaught ruby gen.rb uncaught
record php-uncaught php -d display_errors=0 -d log_errors=1 gen.php uncaught
record php-display php -d display_errors=stderr -d log_errors=0 gen.php uncaught
