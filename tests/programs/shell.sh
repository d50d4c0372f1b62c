# Subshells, pipes, command substitution, here-documents, loops.
i=0; acc=""
while [ $i -lt 40 ]; do
	acc="$acc$(echo "$i" | tr 0-9 a-j)"
	i=$((i + 1))
done
echo "${#acc}"
( for w in alpha beta gamma delta; do echo "$w"; done ) | sort -r | tr '\n' ' '; echo
x=$( (echo nested; (echo deeper | sed 's/e/E/g')) | wc -l)
echo "lines $x"
cat <<END | awk '{ s += $1 } END { print "sum", s }'
1
2
39
END
seq 1 2000 | awk '{ s += $1 } END { print s }'
