#!/usr/bin/env sh
# Print the path of a Python 3.12+ interpreter (Django 6 needs 3.12), or fail saying how to get one.
for candidate in "${PYTHON:-}" python3.14 python3.13 python3.12 python3 python; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    echo "$path"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for path in "$(pyenv root)"/versions/3.1[2-9]*/bin/python3; do
    if [ -x "$path" ] && "$path" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$path"; exit 0
    fi
  done
fi
echo "nerlab needs Python 3.12 or newer (Django 6); install it, or set PYTHON=/path/to/python3.12" >&2
exit 1
