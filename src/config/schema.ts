// The configuration file's schema (docs/decisions.md "Configuration"): every key, its type, default
// and allowed range. Objects are strict, so an unknown key is an error that names it.
import { z } from 'zod';
import { parseCIDR } from '../net/ip.js';
import { parseLabelSelector } from '../model/selector.js';
import { ZEBRA_PROTOCOLS } from '../router/kernel-routes.js';
import { parseHttpAddress } from './http-address.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const configSchema = z
  .object({
    nodeName: z.string().default(''),
    services: z
      .object({
        namespaces: z
          .array(
            z.string().refine((s) => DNS_LABEL.test(s) && s.length <= 63, {
              message: 'must be a Kubernetes namespace name (lower-case DNS label)',
            }),
          )
          .default([]),
        labelSelector: z
          .string()
          .superRefine((s, ctx) => {
            try {
              parseLabelSelector(s);
            } catch (err) {
              ctx.addIssue({ code: 'custom', message: `is not a label selector: ${(err as Error).message}` });
            }
          })
          .default(''),
      })
      .strict()
      .prefault({}),
    advertise: z
      .object({
        clusterIP: z.boolean().default(true),
        loadBalancerIP: z.boolean().default(false),
        externalIPs: z.boolean().default(false),
        allowedCIDRs: z
          .array(
            z.string().superRefine((s, ctx) => {
              const r = parseCIDR(s);
              if (typeof r === 'string') {
                ctx.addIssue({ code: 'custom', message: `is not a CIDR without host bits (${r})` });
              }
            }),
          )
          .default([]),
        loadBalancerClass: z.string().default(''),
        withdrawOnCordon: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    loopIntervalSeconds: int(1, 86400).default(30),
    // Rule 7: a class name is a DNS label, its mark the kernel route's metric or the static route's tag.
    routeClasses: z
      .record(
        z.string().refine((s) => DNS_LABEL.test(s) && s.length <= 63, {
          message: 'is not a route class name (a lower-case DNS label of at most 63 characters)',
        }),
        z.object({ mark: int(1, 4294967295) }).strict(),
      )
      .default({}),
    defaultRouteClass: z.string().default(''),
    withdrawOnExit: z.boolean().default(false),
    bgp: z
      .object({
        enabled: z.boolean().default(true),
        asn: int(0, 4294967295).default(0),
      })
      .strict()
      .prefault({}),
    frr: z
      .object({
        origination: z.enum(['kernel', 'static']).default('kernel'),
        socketDir: z.string().min(1).default('/var/run/frr'),
        vtyshPath: z.string().min(1).default('vtysh'),
        kernelProtocol: int(5, 255)
          .refine((n) => !ZEBRA_PROTOCOLS.has(n), {
            message: "is one of zebra's own protocol numbers (11, 42, 186-198), which zebra deletes at start",
          })
          .default(73),
        staticTag: int(1, 4294967295).default(7300),
        commandTimeoutSeconds: int(1, 300).default(10),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        address: z
          .string()
          .refine((s) => typeof parseHttpAddress(s) !== 'string', {
            message: 'must be HOST:PORT, [IPv6]:PORT or :PORT with PORT 1 to 65535',
          })
          .default(':8080'),
        // The kubelet's probes: /healthz, /readyz, /version only, never a token, its own connections.
        // Loopback by default (hostNetwork: only the node reaches it); "" for none.
        probeAddress: z
          .string()
          .refine((s) => s === '' || typeof parseHttpAddress(s) !== 'string', {
            message: 'must be "" or HOST:PORT, [IPv6]:PORT or :PORT with PORT 1 to 65535',
          })
          .default('127.0.0.1:8081'),
        // Both or neither: http.address then serves HTTPS with this pair, re-read when the files change.
        tls: z
          .object({ certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() })
          .strict()
          .superRefine((t, ctx) => {
            if (t.certFile !== undefined && t.keyFile === undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['keyFile'],
                message: 'is required with http.tls.certFile',
              });
            if (t.keyFile !== undefined && t.certFile === undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['certFile'],
                message: 'is required with http.tls.keyFile',
              });
          })
          .prefault({}),
        // A token for /metrics and /status must be bound to one of these (TokenReview spec.audiences),
        // so a token sent to a node is never one the API server accepts.
        tokenAudiences: z.array(z.string().min(1)).min(1).default(['cosmolet']),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
        format: z.enum(['json', 'text']).default('json'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // The cross-key rules of rule 7, each reported at the key that breaks it.
    const byMark = new Map<number, string>();
    for (const [name, { mark }] of Object.entries(c.routeClasses)) {
      const path = ['routeClasses', name, 'mark'];
      const other = byMark.get(mark);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path, message: `is also the mark of route class "${other}"` });
      } else if (mark === c.frr.staticTag) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: 'equals frr.staticTag (the mark of unclassed routes)',
        });
      } else if (mark === 1024 && c.frr.origination === 'kernel') {
        // The kernel gives an IPv6 route without a metric 1024: unclassed IPv6 routes would match it.
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            'is the metric the kernel gives IPv6 routes without one (unclassed routes) under frr.origination kernel; pick another',
        });
      }
      byMark.set(mark, name);
    }
    if (c.defaultRouteClass !== '' && !Object.hasOwn(c.routeClasses, c.defaultRouteClass)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultRouteClass'],
        message: 'names no class in routeClasses (use "" for none)',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** The defaults, as the schema gives them for an empty file. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}

/**
 * The keys the plan reads, taken from a validated config: the plan's PlanSettings, checked where it
 * is passed to the plan (the config layer does not import the plan).
 */
export function planSettings(config: Config) {
  return {
    namespaces: config.services.namespaces,
    labelSelector: config.services.labelSelector,
    clusterIP: config.advertise.clusterIP,
    loadBalancerIP: config.advertise.loadBalancerIP,
    externalIPs: config.advertise.externalIPs,
    allowedCIDRs: config.advertise.allowedCIDRs,
    loadBalancerClass: config.advertise.loadBalancerClass,
    withdrawOnCordon: config.advertise.withdrawOnCordon,
    routeClasses: Object.keys(config.routeClasses),
    defaultRouteClass: config.defaultRouteClass,
  };
}
