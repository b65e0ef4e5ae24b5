// The SOAP module without a server: the subset WSDL and the code agree on the operations, plain values and
// strong-soap's wire shapes convert both ways (references, xsi:type, ArrayOf wrappers, typed primitives),
// and answers that are not whole envelopes are recognised.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VIM25_OPERATIONS, WSDL_PATH, checkEnvelope, fromWire, toWire } from './vim25-soap.js';
import { MoRef, disksOf, flattenSnapshots, nicsOf, typed } from './vim-types.js';

describe('vim25 SOAP module', () => {
  it('lists exactly the operations of the subset WSDL, each with its request and response element in the XSD', () => {
    const wsdl = readFileSync(WSDL_PATH, 'utf8');
    const xsd = readFileSync(WSDL_PATH.replace(/\.wsdl$/, '.xsd'), 'utf8');
    const ops = [...wsdl.matchAll(/<operation name="([^"]+)"><input/g)].map((m) => m[1]);
    assert.deepEqual([...ops].sort(), [...VIM25_OPERATIONS].sort());
    for (const op of VIM25_OPERATIONS) {
      assert.match(xsd, new RegExp(`<xsd:element name="${op}">`), `request element ${op}`);
      assert.match(xsd, new RegExp(`<xsd:element name="${op}Response"`), `response element ${op}Response`);
    }
    assert.doesNotMatch(wsdl + xsd, /Copyright.*VMware/i, 'the project\'s own files, not VMware\'s');
  });

  it('sends references with their type attribute and polymorphic objects with xsi:type', () => {
    const wire = toWire({
      _this: new MoRef('VirtualMachine', 'vm-1'),
      spec: { deviceChange: [{ operation: 'add', device: typed('VirtualDisk', { key: -1, backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: '[ds] a.vmdk' }), skipped: undefined }) }] },
    }) as Record<string, unknown>;
    assert.deepEqual(wire._this, { $attributes: { type: 'VirtualMachine' }, $value: 'vm-1' });
    const device = ((wire.spec as { deviceChange: { device: Record<string, unknown> }[] }).deviceChange[0]).device;
    assert.deepEqual(device.$attributes, { $xsiType: { type: 'VirtualDisk', xmlns: 'urn:vim25' } });
    assert.deepEqual((device.backing as Record<string, unknown>).$attributes, { $xsiType: { type: 'VirtualDiskFlatVer2BackingInfo', xmlns: 'urn:vim25' } });
    assert.ok(!('skipped' in device) && !('_type' in device));
  });

  it('reads references, xsi types, ArrayOf wrappers and typed primitives back into plain values', () => {
    const xsd = 'http://www.w3.org/2001/XMLSchema';
    const devices = fromWire({
      $attributes: { $xsiType: { type: 'ArrayOfVirtualDevice', xmlns: 'urn:vim25' } },
      VirtualDevice: [
        { $attributes: { $xsiType: { type: 'VirtualDisk', xmlns: 'urn:vim25' } }, key: '2000', capacityInKB: '1024', controllerKey: '1000', unitNumber: '0',
          deviceInfo: { label: 'Hard disk 1' },
          backing: { $attributes: { $xsiType: { type: 'VirtualDiskFlatVer2BackingInfo', xmlns: 'urn:vim25' } }, fileName: '[ds] vm/vm.vmdk', changeId: '52 aa/3',
            datastore: { $attributes: { type: 'Datastore' }, $value: 'datastore-1' } } },
        { $attributes: { $xsiType: { type: 'VirtualVmxnet3', xmlns: 'urn:vim25' } }, key: '4000', macAddress: '00:50:56:00:00:01',
          backing: { $attributes: { $xsiType: { type: 'VirtualEthernetCardDistributedVirtualPortBackingInfo', xmlns: 'urn:vim25' } }, port: { switchUuid: 'u', portgroupKey: 'dvportgroup-9' } } },
      ],
    });
    assert.deepEqual(disksOf(devices), [{ key: 2000, label: 'Hard disk 1', capacityBytes: 1024 * 1024, fileName: '[ds] vm/vm.vmdk', datastore: new MoRef('Datastore', 'datastore-1'), changeId: '52 aa/3', controllerKey: 1000, unitNumber: 0 }]);
    assert.deepEqual(nicsOf(devices), [{ key: 4000, label: 'nic 4000', macAddress: '00:50:56:00:00:01', networkId: 'dvportgroup-9' }]);
    assert.equal(fromWire({ $attributes: { $xsiType: { type: 'long', xmlns: xsd } }, $value: '17' }), 17);
    assert.equal(fromWire({ $attributes: { $xsiType: { type: 'boolean', xmlns: xsd } }, $value: 'true' }), true);
    assert.deepEqual(fromWire({ $attributes: { $xsiType: { type: 'ArrayOfString', xmlns: 'urn:vim25' } }, string: 'only' }), ['only']);
    assert.deepEqual(fromWire({ $attributes: { $xsiType: { type: 'ArrayOfManagedObjectReference', xmlns: 'urn:vim25' } },
      ManagedObjectReference: [{ $attributes: { type: 'Datastore', $xsiType: { type: 'ManagedObjectReference', xmlns: 'urn:vim25' } }, $value: 'ds-1' }] }), [new MoRef('Datastore', 'ds-1')]);
    const tree = fromWire([{ snapshot: { $attributes: { type: 'VirtualMachineSnapshot' }, $value: 's-1' }, vm: { $attributes: { type: 'VirtualMachine' }, $value: 'vm-1' }, name: 'a', quiesced: 'true',
      childSnapshotList: { snapshot: { $attributes: { type: 'VirtualMachineSnapshot' }, $value: 's-2' }, vm: { $attributes: { type: 'VirtualMachine' }, $value: 'vm-1' }, name: 'b', quiesced: 'false' } }]);
    assert.deepEqual(flattenSnapshots(tree).map((s) => [s.snapshot.value, s.name, s.quiesced]), [['s-1', 'a', true], ['s-2', 'b', false]]);
  });

  it('recognises answers that are not whole SOAP envelopes', () => {
    const ok = '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><X/></soapenv:Body></soapenv:Envelope>';
    assert.equal(checkEnvelope(ok), undefined);
    assert.match(checkEnvelope(ok.slice(0, ok.length / 2)) ?? '', /truncated|Unclosed|end/i);
    assert.ok(checkEnvelope(ok.replace('<X/>', '<X></Y>')));
    assert.match(checkEnvelope('<html><body>503</body></html>') ?? '', /not a SOAP Envelope/);
    assert.ok(checkEnvelope(''));
  });
});
