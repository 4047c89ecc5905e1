// Registers a schema, encodes and decodes a record against the registry at REGISTRY_URL, with the
// @kafkajs/confluent-schema-registry client, and prints what happened as one JSON line. With REGISTRY_USER and
// REGISTRY_PASSWORD it authenticates with Basic auth, as the client's `auth` option does.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';

const auth = process.env.REGISTRY_USER ? { username: process.env.REGISTRY_USER, password: process.env.REGISTRY_PASSWORD } : undefined;
const registry = new SchemaRegistry({ host: process.env.REGISTRY_URL, auth });
const subject = process.env.SUBJECT ?? 'payments-value';
const schema = {
  type: 'record',
  name: 'Payment',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'currency', type: { type: 'enum', name: 'Currency', symbols: ['EUR', 'USD'] } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};

const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
const again = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
const latestId = await registry.getLatestSchemaId(subject);
const payment = { id: 'p-1', amount: 12.5, currency: 'EUR', note: 'first' };
const encoded = await registry.encode(id, payment);
// A fresh client knows nothing yet: decoding fetches the schema by id from the registry.
const decoded = await new SchemaRegistry({ host: process.env.REGISTRY_URL, auth }).decode(encoded);
const fetched = await registry.getSchema(id);
console.log(JSON.stringify({ id, again: again.id, latestId, encoded: encoded.toString('hex'), decoded, fetchedName: fetched.name }));
