#!/bin/sh
# As the official image: each /etc/nginx/templates/NAME.template becomes conf.d/NAME with
# only the variables that are set substituted (nginx's own $variables stay as they are).
set -eu
defined=$(printf '${%s} ' $(env | cut -d= -f1))
for template in /etc/nginx/templates/*.template; do
  [ -e "$template" ] || continue
  name=$(basename "$template" .template)
  envsubst "$defined" <"$template" >"/etc/nginx/conf.d/$name"
done
exec "$@"
