/** OperatorService: search attribute registry per namespace (the part the SDK and apps use). */
import type { Engine } from '../engine/engine';
import type { P } from '../engine/types';
import { PREDEFINED_SEARCH_ATTRIBUTES, SYSTEM_SEARCH_ATTRIBUTES, type SearchAttributeType } from '../visibility';
import { errors } from './errors';
import type { HandlerMap } from './server';

const TYPES: Record<string, SearchAttributeType> = {
  INDEXED_VALUE_TYPE_KEYWORD: 'Keyword',
  INDEXED_VALUE_TYPE_TEXT: 'Text',
  INDEXED_VALUE_TYPE_INT: 'Int',
  INDEXED_VALUE_TYPE_DOUBLE: 'Double',
  INDEXED_VALUE_TYPE_BOOL: 'Bool',
  INDEXED_VALUE_TYPE_DATETIME: 'Datetime',
  INDEXED_VALUE_TYPE_KEYWORD_LIST: 'KeywordList',
};
const toEnum = (t: SearchAttributeType): string => Object.entries(TYPES).find(([, v]) => v === t)![0];

// The same system attributes the visibility queries accept (the real server's `system` list).
const SYSTEM: Record<string, string> = Object.fromEntries([...SYSTEM_SEARCH_ATTRIBUTES].map(([name, t]) => [name, toEnum(t)]));

export function operatorServiceHandlers(engine: Engine): HandlerMap {
  return {
    AddSearchAttributes: (req: P) => {
      const ns = engine.ns(req.namespace || engine.options.namespace);
      const entries = Object.entries((req.searchAttributes ?? {}) as Record<string, string>);
      if (entries.length === 0) throw errors.invalidArgument('SearchAttributes are not set on request.');
      for (const [name, t] of entries) {
        const type = TYPES[t];
        if (!type) throw errors.invalidArgument(`Unknown search attribute type: ${t}`);
        if (SYSTEM[name] || PREDEFINED_SEARCH_ATTRIBUTES.has(name)) throw errors.invalidArgument(`Search attribute ${name} is reserved by system.`);
        const existing = ns.searchAttributes.get(name);
        if (existing && existing !== type) throw errors.alreadyExists(`Search attribute ${name} already exists with a different type.`);
      }
      for (const [name, t] of entries) ns.searchAttributes.set(name, TYPES[t]!);
      return {};
    },
    RemoveSearchAttributes: (req: P) => {
      const ns = engine.ns(req.namespace || engine.options.namespace);
      for (const name of (req.searchAttributes ?? []) as string[]) {
        if (!ns.searchAttributes.has(name) || PREDEFINED_SEARCH_ATTRIBUTES.has(name)) throw errors.notFound(`Search attribute ${name} doesn't exist.`);
      }
      for (const name of (req.searchAttributes ?? []) as string[]) ns.searchAttributes.delete(name);
      return {};
    },
    ListSearchAttributes: (req: P) => {
      const ns = engine.ns(req.namespace || engine.options.namespace);
      const customAttributes: Record<string, string> = {};
      const systemAttributes: Record<string, string> = { ...SYSTEM };
      for (const [k, t] of ns.searchAttributes) {
        if (PREDEFINED_SEARCH_ATTRIBUTES.has(k)) systemAttributes[k] = toEnum(t);
        else customAttributes[k] = toEnum(t);
      }
      return { customAttributes, systemAttributes, storageSchema: {} };
    },
  };
}
