// `node --import ./test/support/import-log.mjs …`: appends every module URL the process
// resolves to the file in IMPORT_LOG (test/ops/cli-lazy.test.ts checks what --help loads).
import { register } from 'node:module';

register('./import-log-hooks.mjs', import.meta.url);
