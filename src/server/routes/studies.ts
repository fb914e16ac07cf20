/**
 * The research market over HTTP: studies to browse (public), a patient's eligibility, joining with
 * de-identified delivery, earnings and withdrawals, and a researcher's post, close and download.
 *
 * Everything that decrypts or signs runs with the caller's keys from the server's keyring (as
 * issuing does): de-identification needs the records in plaintext, which only the holder of the
 * keys may see, and join and deliver must be signed by the patient's own account. A caller whose
 * keys this server does not hold gets a 403 and uses the medvault CLI on their side
 * (`medvault study join`). The logic is `src/research/studies` and `src/research/market`; these
 * routes only validate, check who may ask, and shape JSON.
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { type Address, erc20Abi, getAddress } from 'viem'
import type { UnlockedAccount } from '../../accounts/index.js'
import { CATEGORIES, type Category, buildTagTable, classOf } from '../../core/index.js'
import {
  NATIVE_ASSET,
  type Contribution,
  type Study,
  type StudyState,
  closeStudy,
  earnings,
  getContribution,
  getStudy,
  isResearcher,
  listContributions,
  listDeliveries,
  listStudies,
  postStudy,
  withdraw,
  criteriaHash,
  criteriaOf,
  deliverContribution,
  descriptionHash,
  protocolWithDescription,
  downloadStudy,
  eligibleCounts,
  joinAndDeliver,
  NDJSON,
  recordEligibility,
  storeBytes,
  publishedDescription,
} from '../../research/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { audit, custodialAccount, jsonResponse, sessionOf } from '../http.js'
import { HttpError } from '../outcomes.js'
import { addressSchema, errorResponses, jsonBody, jsonOk, secured } from './schemas.js'

const STATES = ['open', 'closed', 'expired', 'settled'] as const satisfies readonly StudyState[]
/** A contribution holds at most this many records (the contract's limit). */
const MAX_RECORDS_PER_JOIN = 100

const studyParam = z.object({ studyId: z.string().openapi({ param: { name: 'studyId', in: 'path' }, example: '1' }) })
const contributionParam = z.object({
  contributionId: z.string().openapi({ param: { name: 'contributionId', in: 'path' }, example: '1' }),
})

function parseId(value: string | undefined, what: 'study' | 'contribution'): bigint {
  if (!value || !/^[1-9]\d{0,30}$/.test(value)) {
    throw new HttpError(404, 'not-found', `There is no ${what} "${value}".`, {
      hint: `${what[0]!.toUpperCase()}${what.slice(1)} ids are positive numbers.`,
    })
  }
  return BigInt(value)
}

const assetSchema = z
  .union([z.literal('native'), addressSchema])
  .openapi({ description: '"native" for the chain currency, or an ERC-20 token address' })
const toAsset = (asset: string | undefined): Address => (!asset || asset === 'native' ? NATIVE_ASSET : getAddress(asset))

export type AssetInfo = { asset: 'native' | Address; symbol: string; decimals: number }

/** How to show an asset's amounts: the chain's currency, or an ERC-20's own symbol and decimals (asked once). */
function assetInfos(deps: ServerDeps) {
  const known = new Map<Address, Promise<AssetInfo>>()
  return (asset: Address): Promise<AssetInfo> => {
    let info = known.get(asset)
    if (!info) {
      if (asset === NATIVE_ASSET) {
        const currency = deps.ctx.publicClient.chain.nativeCurrency
        info = Promise.resolve({ asset: 'native', symbol: currency.symbol, decimals: currency.decimals })
      } else {
        const read = { address: asset, abi: erc20Abi } as const
        info = Promise.all([
          deps.ctx.publicClient.readContract({ ...read, functionName: 'symbol' }),
          deps.ctx.publicClient.readContract({ ...read, functionName: 'decimals' }),
        ]).then(
          ([symbol, decimals]) => ({ asset, symbol, decimals }),
          // A token without the optional metadata: amounts stay in its smallest unit.
          () => ({ asset, symbol: 'units', decimals: 0 }),
        )
      }
      known.set(asset, info)
    }
    return info
  }
}

/** A study as JSON: amounts as decimal strings, the protocol CID as text, the description when its protocol carries it. */
async function studyJson(deps: ServerDeps, study: Study, infoOf: ReturnType<typeof assetInfos>) {
  const [description, assetInfo] = await Promise.all([publishedDescription(deps.ctx.store, study), infoOf(study.asset)])
  return {
    studyId: study.studyId,
    researcher: study.researcher,
    asset: study.asset === NATIVE_ASSET ? 'native' : study.asset,
    assetInfo,
    pricePerRecord: study.pricePerRecord,
    maxRecords: study.maxRecords,
    reserved: study.reserved,
    delivered: study.delivered,
    categories: study.categories,
    description,
    protocolCid: study.protocolCid.toString(),
    descriptionHash: study.descriptionHash,
    criteriaHash: study.criteriaHash,
    deadline: study.deadline.toISOString(),
    closedAt: study.closedAt?.toISOString() ?? null,
    state: study.state,
    unreservedBudget: study.unreservedBudget,
    reservedBudget: study.reservedBudget,
  }
}

function contributionJson(c: Contribution) {
  return {
    contributionId: c.contributionId,
    studyId: c.studyId,
    patient: c.patient,
    tokenIds: c.tokenIds,
    status: c.status,
    amount: c.amount,
    delivery: c.delivery
      ? { datasetCid: c.delivery.datasetCid.toString(), datasetCommitment: c.delivery.datasetCommitment, txHash: c.delivery.txHash }
      : null,
  }
}

/** The caller's keys, when the caller is the study's researcher. */
async function studyResearcher(deps: ServerDeps, caller: Address, study: Study) {
  if (study.researcher !== caller) {
    throw new HttpError(403, 'forbidden', `Only study #${study.studyId}'s researcher can do this.`, {
      hint: 'Sign in with the account that posted the study.',
    })
  }
  return custodialAccount(deps, caller)
}

/**
 * The caller's live records (own, not erased, not superseded), from the index, with their
 * categories from the patient's own tag table (the chain holds only tags).
 */
async function liveRecords(deps: ServerDeps, patient: UnlockedAccount): Promise<{ tokenId: bigint; category: Category }[]> {
  const records = await deps.index.recordsOf(patient.address)
  const table = buildTagTable(patient.tagSecret)
  return records
    .filter((r) => r.owner === patient.address && !r.erasedAt && r.supersededBy === 0n)
    .flatMap((r) => {
      const cls = classOf(table, r.tag)
      return cls ? [{ tokenId: r.tokenId, category: cls.category }] : []
    })
}

export function studyRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/studies',
      summary: 'Research studies (public); a signed-in researcher also gets the suppressed eligibility counts of their own studies',
      tags: ['research'],
      request: {
        query: z.object({
          state: z.enum(STATES).optional(),
          researcher: addressSchema.optional(),
        }),
      },
      responses: {
        ...jsonOk('{ studies: [...] } oldest first; amounts as decimal strings in the asset’s smallest unit'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const caller = c.get('session')?.address
      const infoOf = assetInfos(deps)
      const studies = await listStudies(deps.ctx, {
        ...(q.researcher ? { researcher: getAddress(q.researcher) } : {}),
        ...(q.state ? { states: [q.state] } : {}),
      })
      const out = await Promise.all(
        studies.map(async (s) => ({
          ...(await studyJson(deps, s, infoOf)),
          ...(caller && s.researcher === caller ? { eligible: await eligibleCounts(deps.ctx, s.studyId) } : {}),
        })),
      )
      return jsonResponse(c, { studies: out })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/studies/{studyId}',
      summary:
        "One study (public); a signed-in researcher also gets how many records of its categories exist (counts under 11 shown as '<11'), and the study's own researcher its deliveries",
      tags: ['research'],
      request: { params: studyParam },
      responses: { ...jsonOk('{ study, eligible?, deliveries? }'), ...errorResponses },
    }),
    async (c) => {
      const study = await getStudy(deps.ctx, parseId(c.req.valid('param').studyId, 'study'))
      const caller = c.get('session')?.address
      // The counts read every record token on chain: for signed-in researchers only, not for anyone on the internet.
      const counted = caller !== undefined && (caller === study.researcher || (await isResearcher(deps.ctx, caller)))
      const [json, eligible] = await Promise.all([
        studyJson(deps, study, assetInfos(deps)),
        counted ? eligibleCounts(deps.ctx, study.studyId) : undefined,
      ])
      const deliveries =
        caller === study.researcher
          ? (await listDeliveries(deps.ctx, { studyId: study.studyId })).map((d) => ({
              contributionId: d.contributionId,
              patient: d.patient,
              datasetCid: d.datasetCid.toString(),
              amount: d.amount,
              txHash: d.txHash,
            }))
          : undefined
      return jsonResponse(c, { study: json, ...(eligible ? { eligible } : {}), ...(deliveries ? { deliveries } : {}) })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/studies/{studyId}/eligibility',
      summary: "Which of the caller's records qualify for the study, checked against its coded criteria (custodial accounts only)",
      tags: ['research'],
      ...secured,
      request: { params: studyParam },
      responses: { ...jsonOk('{ studyId, records: [{ tokenId, category, eligible, reason? }] }'), ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const study = await getStudy(deps.ctx, parseId(c.req.valid('param').studyId, 'study'))
      const records = await recordEligibility(deps.ctx, { patient, study, records: await liveRecords(deps, patient) })
      return jsonResponse(c, { studyId: study.studyId, records })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/studies/{studyId}/join',
      summary:
        'Join a study with some of your records (research consent) and, unless deliver is false, deliver their de-identified copy sealed to the researcher (custodial accounts only)',
      tags: ['research'],
      ...secured,
      request: {
        params: studyParam,
        ...jsonBody(
          z
            .object({
              tokenIds: z
                .array(z.string().regex(/^[1-9]\d{0,30}$/))
                .min(1)
                .max(MAX_RECORDS_PER_JOIN)
                .optional()
                .openapi({ description: 'The records to contribute' }),
              categories: z
                .array(z.enum(CATEGORIES))
                .min(1)
                .max(CATEGORIES.length)
                .optional()
                .openapi({ description: 'Or: every eligible record of these categories' }),
              deliver: z.boolean().default(true),
            })
            .openapi('JoinStudyRequest'),
        ),
      },
      responses: { 201: { description: '{ contributionId, amount, joinTxHash, delivery } (application/json)' }, ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const studyId = parseId(c.req.valid('param').studyId, 'study')
      const body = c.req.valid('json')
      if (!body.tokenIds === !body.categories) throw new HttpError(422, 'invalid', 'Send exactly one of `tokenIds` or `categories`.')
      let tokenIds: bigint[]
      if (body.tokenIds) {
        tokenIds = body.tokenIds.map(BigInt)
        if (new Set(tokenIds).size !== tokenIds.length) throw new HttpError(422, 'invalid', '`tokenIds` lists a record twice.')
      } else {
        const wanted = new Set<Category>(body.categories)
        const study = await getStudy(deps.ctx, studyId)
        const mine = (await liveRecords(deps, patient)).filter((r) => wanted.has(r.category))
        tokenIds = (await recordEligibility(deps.ctx, { patient, study, records: mine })).filter((r) => r.eligible).map((r) => r.tokenId)
        if (tokenIds.length === 0) {
          throw new HttpError(422, 'invalid', `None of your records in ${[...wanted].join(', ')} qualifies for study #${studyId}.`, {
            hint: `GET /api/studies/${studyId}/eligibility says why each record does not.`,
          })
        }
        if (tokenIds.length > MAX_RECORDS_PER_JOIN) {
          throw new HttpError(
            422,
            'invalid',
            `${tokenIds.length} records qualify; one contribution holds at most ${MAX_RECORDS_PER_JOIN}.`,
            {
              hint: 'Join with `tokenIds` in several contributions.',
            },
          )
        }
      }
      const result = await joinAndDeliver(deps.ctx, { patient, studyId, tokenIds, deliver: body.deliver })
      for (const tokenId of tokenIds) {
        await audit(deps, {
          actor: patient.address,
          action: 'grant',
          tokenId,
          patient: patient.address,
          purpose: 'research',
          outcome: 'allowed',
          reason: result.delivery ? 'study-delivered' : 'study-joined',
        })
      }
      return jsonResponse(
        c,
        {
          studyId: result.studyId,
          contributionId: result.contributionId,
          tokenIds,
          amount: result.amount,
          joinTxHash: result.joinTxHash,
          delivery: result.delivery
            ? {
                datasetCid: result.delivery.cid.toString(),
                datasetCommitment: result.delivery.commitment,
                resources: result.delivery.resources,
                pseudonym: result.delivery.pseudonym,
                txHash: result.delivery.txHash,
              }
            : null,
        },
        201,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/contributions/{contributionId}/deliver',
      summary: 'Deliver a contribution joined earlier without delivery: de-identify, seal to the researcher, store, be credited',
      tags: ['research'],
      ...secured,
      request: { params: contributionParam },
      responses: { ...jsonOk('{ contributionId, amount, datasetCid, resources, pseudonym, txHash }'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const contributionId = parseId(c.req.valid('param').contributionId, 'contribution')
      const contribution = await getContribution(deps.ctx, contributionId)
      if (contribution.patient !== caller) {
        throw new HttpError(403, 'forbidden', `Contribution #${contributionId} is another patient's; only they deliver it.`)
      }
      const patient = await custodialAccount(deps, caller)
      const done = await deliverContribution(deps.ctx, { patient, contributionId })
      for (const tokenId of contribution.tokenIds) {
        await audit(deps, {
          actor: caller,
          action: 'grant',
          tokenId,
          patient: caller,
          purpose: 'research',
          outcome: 'allowed',
          reason: 'study-delivered',
        })
      }
      return jsonResponse(c, {
        contributionId,
        studyId: contribution.studyId,
        amount: done.amount,
        datasetCid: done.cid.toString(),
        datasetCommitment: done.commitment,
        resources: done.resources,
        pseudonym: done.pseudonym,
        txHash: done.txHash,
      })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/earnings',
      summary: "The caller's money in the research market per asset (withdrawable, earned, withdrawn) and their contributions",
      tags: ['research'],
      ...secured,
      responses: { ...jsonOk('{ account, earnings: [...], contributions: [...] }'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const [owed, contributions] = await Promise.all([earnings(deps.ctx, caller), listContributions(deps.ctx, { patient: caller })])
      const infoOf = assetInfos(deps)
      return jsonResponse(c, {
        account: caller,
        earnings: await Promise.all(
          owed.map(async (e) => ({ ...e, asset: e.asset === NATIVE_ASSET ? 'native' : e.asset, assetInfo: await infoOf(e.asset) })),
        ),
        contributions: contributions.map(contributionJson),
      })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/earnings/withdraw',
      summary: 'Pay out what the market owes the caller: one asset, or every asset with a balance (custodial accounts only)',
      tags: ['research'],
      ...secured,
      request: jsonBody(z.object({ asset: assetSchema.optional() }).openapi('WithdrawRequest')),
      responses: { ...jsonOk('{ withdrawals: [{ asset, amount, txHash }], earnings }'), ...errorResponses },
    }),
    async (c) => {
      const account = await custodialAccount(deps, sessionOf(c).address)
      const { asset } = c.req.valid('json')
      const owed = await earnings(deps.ctx, account.address)
      const due = owed.filter((e) => e.withdrawable > 0n && (asset === undefined || e.asset === toAsset(asset)))
      if (due.length === 0) throw new HttpError(409, 'conflict', 'The market owes you nothing to withdraw right now.')
      const withdrawals = []
      for (const e of due) {
        const paid = await withdraw(deps.ctx, { account: account.chainAccount, asset: e.asset })
        withdrawals.push({ asset: e.asset === NATIVE_ASSET ? 'native' : e.asset, amount: paid.amount, txHash: paid.txHash })
      }
      const after = await earnings(deps.ctx, account.address)
      return jsonResponse(c, { withdrawals, earnings: after.map((e) => ({ ...e, asset: e.asset === NATIVE_ASSET ? 'native' : e.asset })) })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/studies',
      summary:
        'Post a study as an approved researcher (custodial accounts only): stores the protocol document with the description, escrows price x records',
      tags: ['research'],
      ...secured,
      request: jsonBody(
        z
          .object({
            description: z.string().trim().min(1).max(1000),
            protocol: z
              .record(z.string(), z.unknown())
              .optional()
              .openapi({ description: 'A JSON protocol; `criteria: [{system, code}]` are the coded eligibility criteria' }),
            categories: z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length),
            pricePerRecord: z
              .string()
              .regex(/^[1-9]\d{0,28}$/)
              .openapi({ description: "In the asset's smallest unit (wei for native)", example: '1000000000000000' }),
            maxRecords: z.number().int().min(1).max(0xffffffff),
            deadline: z.iso.datetime({ offset: true }),
            asset: assetSchema.default('native'),
          })
          .openapi('PostStudyRequest'),
      ),
      responses: { 201: { description: '{ studyId, budget, protocolCid, txHash } (application/json)' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const body = c.req.valid('json')
      if (!(await isResearcher(deps.ctx, caller))) {
        throw new HttpError(403, 'forbidden', 'Only a research organisation the registrar approved can post studies.', {
          hint: 'Ask the registrar: `medvault study approve-researcher ACCOUNT`.',
        })
      }
      const researcher = await custodialAccount(deps, caller)
      // The description goes into the protocol document, so the text readers see is the one its hash on chain commits to.
      const { bytes: protocol } = protocolWithDescription(Buffer.from(JSON.stringify(body.protocol ?? {})), body.description)
      const criteria = criteriaOf(protocol)
      const protocolCid = await storeBytes(deps.ctx.store, protocol)
      const posted = await postStudy(deps.ctx, {
        researcher: researcher.chainAccount,
        protocolCid,
        descriptionHash: descriptionHash(body.description),
        categories: body.categories,
        criteriaHash: criteriaHash(criteria),
        asset: toAsset(body.asset),
        pricePerRecord: BigInt(body.pricePerRecord),
        maxRecords: body.maxRecords,
        deadline: new Date(body.deadline),
      })
      return jsonResponse(c, { ...posted, protocolCid: protocolCid.toString(), criteria: criteria.length }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/studies/{studyId}/close',
      summary: 'Close a study as its researcher: early, refunds the unreserved budget; after the deadline, settles it',
      tags: ['research'],
      ...secured,
      request: { params: studyParam },
      responses: { ...jsonOk('{ studyId, refund, settled, txHash }'), ...errorResponses },
    }),
    async (c) => {
      const study = await getStudy(deps.ctx, parseId(c.req.valid('param').studyId, 'study'))
      const researcher = await studyResearcher(deps, sessionOf(c).address, study)
      const closed = await closeStudy(deps.ctx, { researcher: researcher.chainAccount, studyId: study.studyId })
      return jsonResponse(c, { studyId: study.studyId, ...closed })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/studies/{studyId}/dataset',
      summary:
        "The study's delivered datasets, opened with its researcher's key and checked against their on-chain commitments: JSON with the NDJSON and a k-anonymity report, or the NDJSON alone (researcher, custodial)",
      tags: ['research'],
      ...secured,
      request: {
        params: studyParam,
        query: z.object({
          format: z.enum(['json', 'ndjson']).default('json'),
          k: z.coerce.number().int().min(1).max(1000).default(5),
        }),
      },
      responses: {
        200: { description: `application/json: { deliveries, resources, kAnonymity, ndjson }; or ${NDJSON} with format=ndjson` },
        ...errorResponses,
      },
    }),
    async (c) => {
      const study = await getStudy(deps.ctx, parseId(c.req.valid('param').studyId, 'study'))
      const researcher = await studyResearcher(deps, sessionOf(c).address, study)
      const { format, k } = c.req.valid('query')
      const got = await downloadStudy(deps.ctx, { researcher, studyId: study.studyId, k })
      if (format === 'ndjson') {
        return c.body(new Uint8Array(got.ndjson), 200, {
          'content-type': NDJSON,
          'content-disposition': `attachment; filename="study-${study.studyId}.ndjson"`,
        })
      }
      return jsonResponse(c, {
        studyId: got.studyId,
        deliveries: got.deliveries.map((d) => ({ ...d, datasetCid: d.datasetCid.toString() })),
        resources: got.resources,
        kAnonymity: got.kAnonymity,
        ndjson: got.ndjson.toString('utf8'),
      })
    },
  )
}
