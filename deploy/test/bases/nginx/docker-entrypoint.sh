#!/bin/sh
# As the official image: each /etc/nginx/templates/NAME.template becomes conf.d/NAME with
# only the variables that are set substituted (nginx's own $variables stay as they are).
set -eu
# envsubst takes the literal list "${A} ${B}": the single quotes are meant.
# shellcheck disable=SC2016
defined=$(awk 'BEGIN { for (name in ENVIRON) printf "${%s} ", name }')
for template in /etc/nginx/templates/*.template; do
  [ -e "$template" ] || continue
  name=$(basename "$template" .template)
  envsubst "$defined" <"$template" >"/etc/nginx/conf.d/$name"
done
exec "$@"
