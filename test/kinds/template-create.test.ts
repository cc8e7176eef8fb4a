import assert from 'node:assert/strict';
import { it } from 'node:test';
import { templateCreate } from '../../src/kinds/template-create.js';

it("template create's summary says whether its guest has cloud-init when that is known", () => {
  const result = (cloudInit?: string) => ({ template: { name: 'deb', sourceVm: 'src', sealed: true, disks: 1, ...(cloudInit ? { cloudInit } : {}) } });
  assert.equal(templateCreate.summary(result('yes')), 'template deb from src, 1 disk(s), sealed, cloud-init: yes');
  assert.equal(templateCreate.summary(result('no')), "template deb from src, 1 disk(s), sealed, cloud-init: no (its VMs' seeds will not be applied)");
  assert.equal(templateCreate.summary(result('unknown')), 'template deb from src, 1 disk(s), sealed');
  // a result stored before kvmops looked
  assert.equal(templateCreate.summary(result()), 'template deb from src, 1 disk(s), sealed');
});
