import { type FormEvent, useCallback, useEffect, useState } from 'react'
import { isAddress } from 'viem'
import { ErrorMessage, Loading } from '../components.js'
import { RecordList } from '../RecordList.js'
import { CATEGORY_LABEL, formatDate, shortAddress } from '../lib/format.js'
import { useSession } from '../session.js'

type Kind = 'lab' | 'immunization' | 'note' | 'file'
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category'

function toBase64(text: string) {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary)
}

const FILE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  pdf: 'application/pdf',
  dcm: 'application/dicom',
  json: 'application/fhir+json',
}
const FILE_CATEGORIES = ['imaging', 'laboratory', 'clinical-note', 'immunization', 'medication', 'other'] as const

/** The content type of an uploaded file, from its extension (browsers often leave DICOM untyped). */
function fileType(file: File): string | undefined {
  const ext = file.name.split('.').pop()?.toLowerCase() ?? ''
  return FILE_TYPES[ext] ?? (Object.values(FILE_TYPES).includes(file.type) ? file.type : undefined)
}

function bytesToBase64(bytes: Uint8Array) {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

/** The body of POST /api/records for an uploaded file: FHIR JSON as `resource`, anything else as `binary`. */
async function fileBody(file: File, category: string): Promise<Record<string, unknown>> {
  const type = fileType(file)
  if (!type) throw new Error('Upload a FHIR JSON file, or a PNG, JPEG, PDF or DICOM (.dcm) file.')
  if (type.includes('json')) {
    let resource: unknown
    try {
      resource = JSON.parse(await file.text())
    } catch {
      throw new Error(`${file.name} is not valid JSON.`)
    }
    if (!resource || typeof resource !== 'object' || typeof (resource as { resourceType?: unknown }).resourceType !== 'string')
      throw new Error(`${file.name} is not a FHIR resource (it has no resourceType).`)
    return { resource }
  }
  return { binary: { contentType: type, data: bytesToBase64(new Uint8Array(await file.arrayBuffer())), category } }
}

/** The FHIR R4 resource for a filled-in form. */
function buildResource(kind: Exclude<Kind, 'file'>, f: Record<string, string>): Record<string, unknown> {
  const when = f.date ? new Date(f.date).toISOString() : new Date().toISOString()
  if (kind === 'lab') {
    const value = Number(f.value)
    const low = f.low === '' || f.low === undefined ? undefined : Number(f.low)
    const high = f.high === '' || f.high === undefined ? undefined : Number(f.high)
    const q = (v: number) => ({ value: v, unit: f.unit, system: 'http://unitsofmeasure.org', code: f.unit })
    const flag = high !== undefined && value > high ? 'H' : low !== undefined && value < low ? 'L' : 'N'
    return {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'laboratory', display: 'Laboratory' }] }],
      code: { ...(f.loinc ? { coding: [{ system: 'http://loinc.org', code: f.loinc }] } : {}), text: f.test },
      effectiveDateTime: when,
      issued: new Date().toISOString(),
      valueQuantity: q(value),
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: flag }] }],
      ...(low !== undefined || high !== undefined
        ? { referenceRange: [{ ...(low !== undefined ? { low: q(low) } : {}), ...(high !== undefined ? { high: q(high) } : {}) }] }
        : {}),
    }
  }
  if (kind === 'immunization') {
    return {
      resourceType: 'Immunization',
      status: 'completed',
      vaccineCode: { ...(f.cvx ? { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: f.cvx }] } : {}), text: f.vaccine },
      patient: { display: 'Patient' },
      occurrenceDateTime: when.slice(0, 10),
      ...(f.lot ? { lotNumber: f.lot } : {}),
    }
  }
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
    description: f.title,
    date: when,
    content: [{ attachment: { contentType: 'text/plain', data: toBase64(f.text ?? '') } }],
  }
}

function Issue({ known }: { known: string[] }) {
  const { api, me } = useSession()
  const [kind, setKind] = useState<Kind>('lab')
  const [fields, setFields] = useState<Record<string, string>>({ date: new Date().toISOString().slice(0, 10) })
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const [issued, setIssued] = useState<string>()
  const [file, setFile] = useState<File>()
  const [category, setCategory] = useState<string>('imaging')
  const set = (name: string) => (e: { target: { value: string } }) => setFields({ ...fields, [name]: e.target.value })
  const input = (name: string, label: string, props: Record<string, unknown> = {}) => (
    <div className="field" key={`${kind}-${name}`}>
      <label htmlFor={`f-${name}`}>{label}</label>
      <input id={`f-${name}`} value={fields[name] ?? ''} onChange={set(name)} {...props} />
    </div>
  )

  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(undefined)
    setIssued(undefined)
    const patient = fields.patient?.trim() ?? ''
    if (!isAddress(patient)) return setError(new Error("Enter the patient's account address (0x followed by 40 characters)."))
    setBusy(true)
    try {
      let body: Record<string, unknown>
      if (kind === 'file') {
        if (!file) throw new Error('Choose a file to upload.')
        body = await fileBody(file, category)
      } else body = { resource: buildResource(kind, fields) }
      const r = await api.post<{ tokenId: string }>('/api/records', { patient, ...body })
      setIssued(`Issued record ${r.tokenId} to the patient. It is in their records now, signed by ${me.provider?.name}.`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  if (!me.custodial) {
    return (
      <p className="message">
        To issue records from here, this server must hold your provider account's keys (your organisation's medvault node). Use the node, or
        the CLI's <code>medvault record add</code>.
      </p>
    )
  }
  return (
    <form onSubmit={submit}>
      <div className="field">
        <label htmlFor="f-patient">Patient account</label>
        <input
          id="f-patient"
          list="known-patients"
          value={fields.patient ?? ''}
          onChange={set('patient')}
          placeholder="0x…"
          spellCheck={false}
          required
        />
        <datalist id="known-patients">
          {known.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
        <p className="help">The patient must have authorised your organisation to issue records to them.</p>
      </div>
      <fieldset>
        <legend>Kind of record</legend>
        <div className="choices">
          {(
            [
              ['lab', 'Lab result'],
              ['immunization', 'Immunization'],
              ['note', 'Clinical note'],
              ['file', 'Upload a file'],
            ] as const
          ).map(([k, label]) => (
            <label key={k} className="choice">
              <input
                type="radio"
                name="kind"
                checked={kind === k}
                onChange={() => {
                  setKind(k)
                  setIssued(undefined)
                }}
              />
              {label}
            </label>
          ))}
        </div>
      </fieldset>
      {kind === 'lab' && (
        <div className="grid">
          {input('test', 'Test', { required: true, placeholder: 'e.g. Hemoglobin' })}
          {input('loinc', 'LOINC code (optional)', { placeholder: 'e.g. 718-7' })}
          {input('value', 'Result', { required: true, inputMode: 'decimal', pattern: '-?[0-9]+([.][0-9]+)?' })}
          {input('unit', 'Unit', { required: true, placeholder: 'e.g. g/dL' })}
          {input('low', 'Normal range from', { inputMode: 'decimal' })}
          {input('high', 'Normal range to', { inputMode: 'decimal' })}
          {input('date', 'Sample taken on', { type: 'date', required: true })}
        </div>
      )}
      {kind === 'immunization' && (
        <div className="grid">
          {input('vaccine', 'Vaccine', { required: true })}
          {input('cvx', 'CVX code (optional)')}
          {input('lot', 'Batch number (optional)')}
          {input('date', 'Given on', { type: 'date', required: true })}
        </div>
      )}
      {kind === 'note' && (
        <>
          {input('title', 'Title', { required: true })}
          <div className="field">
            <label htmlFor="f-text">Note</label>
            <textarea id="f-text" rows={5} value={fields.text ?? ''} onChange={set('text')} required />
          </div>
          {input('date', 'Date', { type: 'date', required: true })}
        </>
      )}
      {kind === 'file' && (
        <>
          <div className="field">
            <label htmlFor="f-file">File</label>
            <input
              id="f-file"
              type="file"
              accept=".json,.png,.jpg,.jpeg,.pdf,.dcm,application/json,application/fhir+json,image/png,image/jpeg,application/pdf,application/dicom"
              onChange={(e) => {
                setFile(e.target.files?.[0])
                setIssued(undefined)
                setError(undefined)
              }}
              required
            />
            <p className="help">A FHIR resource (JSON), or a scan or document: PNG, JPEG, PDF or DICOM.</p>
          </div>
          {file && fileType(file)?.includes('json') ? null : (
            <div className="field">
              <label htmlFor="f-category">Category</label>
              <select id="f-category" value={category} onChange={(e) => setCategory(e.target.value)}>
                {FILE_CATEGORIES.map((c) => (
                  <option key={c} value={c}>
                    {CATEGORY_LABEL[c] ?? c}
                  </option>
                ))}
              </select>
            </div>
          )}
        </>
      )}
      <ErrorMessage error={error} />
      {issued && (
        <p className="message message-ok" role="status">
          {issued}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Issuing…' : 'Issue record'}
      </button>
    </form>
  )
}

export function Provider() {
  const { api, me } = useSession()
  const [patients, setPatients] = useState<{ patient: string; until: string }[]>()
  const [open, setOpen] = useState<string>()
  const [error, setError] = useState<unknown>()
  const load = useCallback(() => {
    api
      .get<{ patients: { patient: string; until: string }[] }>('/api/patients')
      .then((r) => setPatients(r.patients))
      .catch(setError)
  }, [api])
  useEffect(load, [load])

  return (
    <>
      <h1>{me.provider?.name ?? 'Provider'}</h1>
      {me.provider && me.provider.status !== 'active' && (
        <p className="message message-warn">This provider is {me.provider.status}: it cannot issue records.</p>
      )}
      <section aria-labelledby="patients-h">
        <h2 id="patients-h">Patients sharing with you</h2>
        <ErrorMessage error={error} />
        {!patients ? (
          <Loading what="patients" />
        ) : patients.length === 0 ? (
          <p className="message">No patient is sharing records with you right now.</p>
        ) : (
          <ul className="patients">
            {patients.map((p) => (
              <li key={p.patient}>
                <div className="patient-row">
                  <p>
                    <strong title={p.patient}>Patient {shortAddress(p.patient)}</strong> · shared with you until {formatDate(p.until)}
                  </p>
                  <button
                    type="button"
                    className="secondary"
                    aria-expanded={open === p.patient}
                    onClick={() => setOpen(open === p.patient ? undefined : p.patient)}
                  >
                    {open === p.patient ? 'Hide records' : 'Show shared records'}
                  </button>
                </div>
                {open === p.patient && <RecordList patient={p.patient} emptyText="Nothing shared." />}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="issue-h" className="card">
        <h2 id="issue-h">Issue a record</h2>
        <Issue known={patients?.map((p) => p.patient) ?? []} />
      </section>
    </>
  )
}
