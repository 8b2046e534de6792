#!/bin/sh
# libmslam.so exports exactly the functions mslam.h declares: an internal symbol it exported (a
# kernel such as layernorm_forward) would be replaced by an application's function of that name.
# Usage (meson runs it): test_exports.sh NM LIBMSLAM_SO MSLAM_H
nm=$1 lib=$2 header=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$nm" -D --defined-only "$lib" > "$tmp/nm" || exit 1
awk '{ print $NF }' "$tmp/nm" | sort -u > "$tmp/exported"
grep -o 'mslam_[a-z0-9_]*(' "$header" | tr -d '(' | sort -u > "$tmp/declared"
if [ ! -s "$tmp/declared" ]; then
    echo "no function declarations found in $header"
    exit 1
fi
if ! cmp -s "$tmp/declared" "$tmp/exported"; then
    echo "$lib against $header: exported but not declared:"
    comm -13 "$tmp/declared" "$tmp/exported"
    echo "declared but not exported:"
    comm -23 "$tmp/declared" "$tmp/exported"
    exit 1
fi
echo "$lib exports the $(wc -l < "$tmp/exported") functions of $header and nothing else"
