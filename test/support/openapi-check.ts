import { Ajv, type ValidateFunction } from 'ajv';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is walked generically
type Json = any;

/**
 * Checks a response against the API's own OpenAPI document, the way a validating proxy
 * (Prism) would: the status must be documented for the operation, a documented body must
 * validate against its schema (components resolved), a 204 or bodiless response must be
 * empty. Paths the document does not describe must still answer in the error shape.
 */
export class OpenApiCheck {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: { template: string; pattern: RegExp; params: number }[];

  constructor(private readonly doc: Json) {
    this.routes = Object.keys(doc.paths)
      .map((template) => ({
        template,
        pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        params: (template.match(/\{/g) ?? []).length,
      }))
      .sort((a, b) => a.params - b.params);
    // Compiled up front (one validator per distinct schema), so checking a reply adds no
    // delay that could change the timing a test observes.
    for (const item of Object.values<Json>(doc.paths))
      for (const op of Object.values<Json>(item))
        for (const r of Object.values<Json>(op.responses ?? {}))
          if (r.content?.['application/json']) this.validator(r.content['application/json'].schema);
    this.validator(errorSchema(doc));
  }

  /** The problems with one response (empty when it conforms). */
  violations(
    method: string,
    url: string,
    status: number,
    contentType: string | null,
    text: string,
  ): string[] {
    const path = url.split('?')[0]!;
    const route = this.routes.find((r) => r.pattern.test(path));
    const where = `${method} ${path} → ${status}`;
    const op = route && this.doc.paths[route.template][method.toLowerCase()];
    if (!op) {
      // Not an operation of the document: only the error shape is promised (404, 405).
      if (!route && !path.startsWith('/v1/')) return [];
      return this.check(`${where} (undocumented path or method)`, errorSchema(this.doc), text);
    }
    const response = op.responses[String(status)];
    if (!response) return [`${where}: status not documented for ${op.operationId}`];
    const media = response.content?.['application/json'];
    if (!response.content) return text === '' ? [] : [`${where}: documented without a body`];
    if (!media) return [];
    if (!contentType?.startsWith('application/json'))
      return [`${where}: content-type ${contentType}, documented application/json`];
    return this.check(where, media.schema, text);
  }

  private validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile({ ...schema, components: this.doc.components });
      this.validators.set(key, validate);
    }
    return validate;
  }

  private check(where: string, schema: Json, text: string): string[] {
    const validate = this.validator(schema);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return [`${where}: body is not JSON`];
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map(
      (e) => `${where}: ${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }
}

const errorSchema = (doc: Json) => doc.components.schemas.Error;
