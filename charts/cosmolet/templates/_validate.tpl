{{/*
The program's own checks of the `config:` block that values.schema.json cannot state (CIDR host
bits, label selector syntax, the HTTP port's range, the cross-key route-class rules), so a value
cosmolet would refuse with exit status 2 fails `helm install` and `helm template` instead, with the
line cosmolet prints for it (src/config/load.ts). Each helper mirrors one function of src/ and says
which; test/unit/chart/validation.test.ts runs both on the same values so they cannot drift.
*/}}

{{/* JavaScript's \s (and so String.prototype.trim's set), for the label selector's regexes. */}}
{{- define "cosmolet.jsSpace" -}}
[\t\n\v\f\r \x{00a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]
{{- end -}}

{{/* JSON.stringify of a string or number: Go's encoder also escapes <, >, & and U+2028/9. */}}
{{- define "cosmolet.jsJson" -}}
{{- toJson . | replace "\\u003c" "<" | replace "\\u003e" ">" | replace "\\u0026" "&" | replace "\\u2028" "\u2028" | replace "\\u2029" "\u2029" -}}
{{- end -}}

{{/* load.ts shortJson: a value in an error line, long strings cut. */}}
{{- define "cosmolet.shortJson" -}}
{{- $s := include "cosmolet.jsJson" . -}}
{{- if le (len $s) 80 -}}{{ $s }}{{- else -}}{{ printf "%s...\" (%d characters)" (trunc 60 $s) (len $s) }}{{- end -}}
{{- end -}}

{{- define "cosmolet.pow2" -}}
{{- $p := 1 -}}
{{- range until (int .) -}}{{- $p = mul $p 2 -}}{{- end -}}
{{- $p -}}
{{- end -}}

{{/* net/ip.ts parseIPv4: the address as a number, or "" when it is not a strict dotted quad. */}}
{{- define "cosmolet.ipv4Value" -}}
{{- if regexMatch `^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$` . -}}
{{- $v := 0 -}}
{{- $ok := true -}}
{{- range splitList "." . -}}
{{- if gt (atoi .) 255 -}}{{- $ok = false -}}{{- end -}}
{{- $v = add (mul $v 256) (atoi .) -}}
{{- end -}}
{{- if $ok -}}{{ $v }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* net/ip.ts parseGroups: hex groups as decimal numbers joined by ",", "" for none, "x" when invalid. */}}
{{- define "cosmolet.hexGroups" -}}
{{- if ne . "" -}}
{{- $hex := dict "0" 0 "1" 1 "2" 2 "3" 3 "4" 4 "5" 5 "6" 6 "7" 7 "8" 8 "9" 9 "a" 10 "b" 11 "c" 12 "d" 13 "e" 14 "f" 15 "A" 10 "B" 11 "C" 12 "D" 13 "E" 14 "F" 15 -}}
{{- $out := list -}}
{{- $ok := true -}}
{{- range $g := splitList ":" . -}}
{{- if regexMatch `^[0-9a-fA-F]{1,4}$` $g -}}
{{- $v := 0 -}}
{{- range $c := splitList "" $g -}}{{- $v = add (mul $v 16) (get $hex $c) -}}{{- end -}}
{{- $out = append $out $v -}}
{{- else -}}
{{- $ok = false -}}
{{- end -}}
{{- end -}}
{{- if $ok -}}{{ join "," $out }}{{- else -}}x{{- end -}}
{{- end -}}
{{- end -}}

{{/*
net/ip.ts parseIPv6 (dict s, refuseMapped): the eight groups joined by ",", or "" when invalid.
refuseMapped false is node's isIPv6 instead, which http.address's [IPv6] uses.
*/}}
{{- define "cosmolet.ipv6Groups" -}}
{{- $s := .s -}}
{{- if and (or (not .refuseMapped) (le (len $s) 45)) (contains ":" $s) -}}
{{- $ok := true -}}
{{- $body := $s -}}
{{- $last := regexFind "[^:]*$" $s -}}
{{- if contains "." $last -}}
{{- $v4 := include "cosmolet.ipv4Value" $last -}}
{{- if $v4 -}}
{{- $n := atoi $v4 -}}
{{- $body = printf "%s%x:%x" (trimSuffix $last $s) (div $n 65536) (mod $n 65536) -}}
{{- else -}}
{{- $ok = false -}}
{{- end -}}
{{- end -}}
{{- $groups := list -}}
{{- $parts := splitList "::" $body -}}
{{- if and $ok (eq (len $parts) 2) -}}
{{- $head := include "cosmolet.hexGroups" (index $parts 0) -}}
{{- $rest := include "cosmolet.hexGroups" (index $parts 1) -}}
{{- if or (eq $head "x") (eq $rest "x") -}}
{{- $ok = false -}}
{{- else -}}
{{- $h := ternary (list) (splitList "," $head) (eq $head "") -}}
{{- $r := ternary (list) (splitList "," $rest) (eq $rest "") -}}
{{- $fill := sub (sub 8 (len $h)) (len $r) -}}
{{- if lt $fill 1 -}}
{{- $ok = false -}}
{{- else -}}
{{- $groups = $h -}}
{{- range until (int $fill) -}}{{- $groups = append $groups "0" -}}{{- end -}}
{{- $groups = concat $groups $r -}}
{{- end -}}
{{- end -}}
{{- else if and $ok (eq (len $parts) 1) -}}
{{- $all := include "cosmolet.hexGroups" $body -}}
{{- if or (eq $all "x") (eq $all "") -}}
{{- $ok = false -}}
{{- else -}}
{{- $groups = splitList "," $all -}}
{{- end -}}
{{- else -}}
{{- $ok = false -}}
{{- end -}}
{{- if and $ok (eq (len $groups) 8) -}}
{{- $mapped := and (eq (join "," (slice $groups 0 5)) "0,0,0,0,0") (eq (index $groups 5) "65535") -}}
{{- if not (and .refuseMapped $mapped) -}}{{ join "," $groups }}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* net/ip.ts parseCIDR: why the text is not a CIDR without host bits, or "". */}}
{{- define "cosmolet.cidrProblem" -}}
{{- $s := . -}}
{{- if not (contains "/" $s) -}}
missing prefix length
{{- else -}}
{{- $addr := regexFind "^[^/]*" $s -}}
{{- $lenText := substr (int (add1 (len $addr))) (len $s) $s -}}
{{- $v6 := contains ":" $addr -}}
{{- $groups := "" -}}
{{- $v4 := "" -}}
{{- if $v6 -}}
{{- $groups = include "cosmolet.ipv6Groups" (dict "s" $addr "refuseMapped" true) -}}
{{- else -}}
{{- $v4 = include "cosmolet.ipv4Value" $addr -}}
{{- end -}}
{{- if and (eq $groups "") (eq $v4 "") -}}
not an IPv4 or IPv6 address
{{- else -}}
{{- $max := ternary 128 32 $v6 -}}
{{- if or (not (regexMatch `^(0|[1-9][0-9]{0,2})$` $lenText)) (gt (atoi $lenText) $max) -}}
prefix length must be 0 to {{ $max }}
{{- else -}}
{{- $bits := atoi $lenText -}}
{{- $hostBits := false -}}
{{- if $v6 -}}
{{- range $i, $g := splitList "," $groups -}}
{{- $groupBits := max 0 (min 16 (sub $bits (mul $i 16))) -}}
{{- if ne (mod (atoi $g) (include "cosmolet.pow2" (sub 16 $groupBits) | atoi)) 0 -}}{{- $hostBits = true -}}{{- end -}}
{{- end -}}
{{- else if ne (mod (atoi $v4) (include "cosmolet.pow2" (sub 32 $bits) | atoi)) 0 -}}
{{- $hostBits = true -}}
{{- end -}}
{{- if $hostBits -}}host bits are set{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* model/selector.ts checkKey: the error, or "". */}}
{{- define "cosmolet.labelKeyProblem" -}}
{{- $slash := ternary (len (regexFind "^[^/]*" .)) -1 (contains "/" .) -}}
{{- $prefixLength := ternary 0 $slash (eq $slash -1) -}}
{{- $nameLength := sub (sub (len .) $slash) 1 -}}
{{- if or (not (regexMatch `^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$` .)) (gt $prefixLength 253) (gt $nameLength 63) -}}
invalid label key {{ include "cosmolet.jsJson" . }}
{{- end -}}
{{- end -}}

{{/* model/selector.ts checkValue. */}}
{{- define "cosmolet.labelValueProblem" -}}
{{- if or (not (regexMatch `^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$` .)) (gt (len .) 63) -}}
invalid label value {{ include "cosmolet.jsJson" . }}
{{- end -}}
{{- end -}}

{{/* JavaScript's String.prototype.trim. */}}
{{- define "cosmolet.jsTrim" -}}
{{- $w := include "cosmolet.jsSpace" . -}}
{{- regexReplaceAll (printf "^%s+|%s+$" $w $w) . "" -}}
{{- end -}}

{{/* model/selector.ts parseLabelSelector: the first error, or "". */}}
{{- define "cosmolet.labelSelectorProblem" -}}
{{- $w := include "cosmolet.jsSpace" . -}}
{{- $nw := printf "[^%s" (trimPrefix "[" $w) -}}
{{- $err := "" -}}
{{- if ne (include "cosmolet.jsTrim" .) "" -}}
{{- $parts := list -}}
{{- $depth := 0 -}}
{{- $cur := "" -}}
{{- range $ch := splitList "" . -}}
{{- if eq $ch "(" -}}{{- $depth = add $depth 1 -}}{{- end -}}
{{- if eq $ch ")" -}}{{- $depth = sub $depth 1 -}}{{- end -}}
{{- if and (eq $ch ",") (eq (int $depth) 0) -}}
{{- $parts = append $parts $cur -}}
{{- $cur = "" -}}
{{- else -}}
{{- $cur = print $cur $ch -}}
{{- end -}}
{{- end -}}
{{- $parts = append $parts $cur -}}
{{- $set := printf `^(%s+)%s+(in|notin)%s*\(([^()]*)\)$` $nw $w $w -}}
{{- $cmp := printf `^([^=!%s+)%s*(==|=|!=)%s*(%s*)$` (trimPrefix "[" $w) $w $w $nw -}}
{{- range $raw := $parts -}}
{{- if not $err -}}
{{- $part := include "cosmolet.jsTrim" $raw -}}
{{- if eq $part "" -}}
{{- $err = "empty requirement" -}}
{{- else if regexMatch $set $part -}}
{{- range $v := splitList "," (regexReplaceAll $set $part "${3}") -}}
{{- if not $err -}}{{- $err = include "cosmolet.labelValueProblem" (include "cosmolet.jsTrim" $v) -}}{{- end -}}
{{- end -}}
{{- if not $err -}}{{- $err = include "cosmolet.labelKeyProblem" (regexReplaceAll $set $part "${1}") -}}{{- end -}}
{{- else if regexMatch $cmp $part -}}
{{- $err = include "cosmolet.labelKeyProblem" (regexReplaceAll $cmp $part "${1}") -}}
{{- if not $err -}}{{- $err = include "cosmolet.labelValueProblem" (regexReplaceAll $cmp $part "${3}") -}}{{- end -}}
{{- else if hasPrefix "!" $part -}}
{{- $err = include "cosmolet.labelKeyProblem" (include "cosmolet.jsTrim" (trimPrefix "!" $part)) -}}
{{- else -}}
{{- $err = include "cosmolet.labelKeyProblem" $part -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $err -}}
{{- end -}}

{{/* config/http-address.ts parseHttpAddress (port 1 to 65535): "" when valid, else "bad". */}}
{{- define "cosmolet.httpAddressProblem" -}}
{{- $re := `^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):([0-9]{1,5})$` -}}
{{- if not (regexMatch $re .) -}}
bad
{{- else -}}
{{- $port := atoi (regexReplaceAll $re . "${3}") -}}
{{- $v6 := regexReplaceAll $re . "${1}" -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
bad
{{- else if and (hasPrefix "[" .) (eq (include "cosmolet.ipv6Groups" (dict "s" $v6 "refuseMapped" false)) "") -}}
bad
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Every line cosmolet would print for the chart's config (schema.ts's refinements and its cross-key
superRefine, which zod runs only when every key passed), joined by newlines; "" when it is valid.
*/}}
{{- define "cosmolet.configProblems" -}}
{{- $c := .Values.config -}}
{{- $lines := list -}}
{{- $selector := dig "services" "labelSelector" "" $c -}}
{{- with include "cosmolet.labelSelectorProblem" $selector -}}
{{- $lines = append $lines (printf "config: services.labelSelector: %s is not a label selector: %s" (include "cosmolet.shortJson" $selector) .) -}}
{{- end -}}
{{- range $i, $cidr := dig "advertise" "allowedCIDRs" (list) $c -}}
{{- with include "cosmolet.cidrProblem" $cidr -}}
{{- $lines = append $lines (printf "config: advertise.allowedCIDRs[%d]: %s is not a CIDR without host bits (%s)" $i (include "cosmolet.shortJson" $cidr) .) -}}
{{- end -}}
{{- end -}}
{{- $address := dig "http" "address" ":8080" $c -}}
{{- if include "cosmolet.httpAddressProblem" $address -}}
{{- $lines = append $lines (printf "config: http.address: %s must be HOST:PORT, [IPv6]:PORT or :PORT with PORT 1 to 65535" (include "cosmolet.shortJson" $address)) -}}
{{- end -}}
{{- $probe := dig "http" "probeAddress" "" $c -}}
{{- if and (ne $probe "") (include "cosmolet.httpAddressProblem" $probe) -}}
{{- $lines = append $lines (printf "config: http.probeAddress: %s must be \"\" or HOST:PORT, [IPv6]:PORT or :PORT with PORT 1 to 65535" (include "cosmolet.shortJson" $probe)) -}}
{{- end -}}
{{- $tls := dig "http" "tls" (dict) $c -}}
{{- range $pair := list (list "certFile" "keyFile") (list "keyFile" "certFile") -}}
{{- if and (hasKey $tls (index $pair 0)) (not (hasKey $tls (index $pair 1))) -}}
{{- $lines = append $lines (printf "config: http.tls.%s: undefined is required with http.tls.%s" (index $pair 1) (index $pair 0)) -}}
{{- end -}}
{{- end -}}
{{- if not $lines -}}
{{- $classes := dig "routeClasses" (dict) $c -}}
{{- $staticTag := dig "frr" "staticTag" 7300 $c | int64 -}}
{{- $origination := dig "frr" "origination" "kernel" $c -}}
{{- $byMark := dict -}}
{{- range $name := keys $classes | sortAlpha -}}
{{- $mark := get (get $classes $name) "mark" | int64 -}}
{{- $at := printf "config: routeClasses.%s.mark: %d" $name $mark -}}
{{- if hasKey $byMark (toString $mark) -}}
{{- $lines = append $lines (printf "%s is also the mark of route class \"%s\"" $at (get $byMark (toString $mark))) -}}
{{- else if eq $mark $staticTag -}}
{{- $lines = append $lines (printf "%s equals frr.staticTag (the mark of unclassed routes)" $at) -}}
{{- else if and (eq $mark 1024) (eq $origination "kernel") -}}
{{- $lines = append $lines (printf "%s is the metric the kernel gives IPv6 routes without one (unclassed routes) under frr.origination kernel; pick another" $at) -}}
{{- end -}}
{{- $_ := set $byMark (toString $mark) $name -}}
{{- end -}}
{{- $default := dig "defaultRouteClass" "" $c -}}
{{- if and (ne $default "") (not (hasKey $classes $default)) -}}
{{- $lines = append $lines (printf "config: defaultRouteClass: %s names no class in routeClasses (use \"\" for none)" (include "cosmolet.shortJson" $default)) -}}
{{- end -}}
{{- end -}}
{{- $lines = uniq $lines -}}
{{- if gt (len $lines) 20 -}}
{{- $lines = append (slice $lines 0 20) (printf "config: and %d more problems" (sub (len $lines) 20)) -}}
{{- end -}}
{{- join "\n" $lines -}}
{{- end -}}
