// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IMedicalRecord} from "./interfaces/IMedicalRecord.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ResearchMarket
/// @notice Researchers pay patients for de-identified copies of their records, through an escrow.
/// @dev Roles. A researcher is an account the registrar (ProviderRegistry's REGISTRAR_ROLE) approved
/// as a research organisation ({approveResearcher}); only approved researchers post studies, and a
/// study whose researcher was revoked takes no new contributions. A patient is whoever owns the
/// MedicalRecord tokens it contributes.
///
/// A study's life. {postStudy} escrows the whole budget, `pricePerRecord * maxRecords`, in native
/// currency or one ERC-20 token. Until its deadline a study is open: patients {join} with some of
/// their records (each joined record reserves `pricePerRecord` of the unreserved budget; this is
/// the patient's research consent) and may {withdrawContribution} until they deliver. {deliver}
/// publishes the content address of the de-identified dataset, encrypted to the researcher, and
/// credits the payment to the patient in the same transaction. The researcher may {closeStudy}
/// at any time: before the deadline it stops new joins and refunds the unreserved budget, and
/// reserved records may still be delivered (or withdrawn, which refunds their price at once) until
/// the deadline; after the deadline it settles the study for good and refunds everything that was
/// not delivered. Joining and delivering both end at the deadline (inclusive): there is no grace
/// period, so a researcher knows exactly when the budget stops moving.
///
/// The fair exchange. (1) The researcher cannot obtain a dataset without its payment becoming due:
/// the dataset's address is published only by {deliver}, and {deliver} credits the patient in the
/// same transaction, from budget that was reserved for exactly this contribution at {join}, so the
/// money is there. (2) The patient cannot be paid without delivering: {deliver} is the only path
/// that credits a patient, and only once per contribution. (3) Double delivery is refused: a
/// contribution is delivered at most once, and a record is in at most one live (reserved or
/// delivered) contribution per study. (4) The researcher gets all unspent budget back by closing.
/// What the contract cannot judge is the dataset's content: the patient commits to it
/// (`datasetCommitment`), so a dispute about what was delivered can be settled off chain.
///
/// Money. Every credit (a patient's payment, a researcher's refund) goes to a pull balance per
/// account and asset, paid out by {withdraw}; no function pushes value except {withdraw}, which
/// follows checks-effects-interactions under a reentrancy guard. The contract's balance of an
/// asset is always the sum, over that asset's studies, of unreserved plus reserved budget, plus
/// the owed balances. Tokens that take a fee on transfer are refused at posting (the balance delta
/// must equal the budget).
///
/// Eligibility: a record qualifies if it exists, is owned by the caller and is not erased. Its
/// category is blinded on chain (MedicalRecord's tags), so whether it is one of the study's
/// categories (the public bitmask) is checked by the patient's client, as are the coded criteria
/// (LOINC, SNOMED CT, CVX...) in the off-chain document named by `criteriaHash`.
contract ResearchMarket is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Most records one {join} may contribute.
    uint256 public constant MAX_RECORDS_PER_CONTRIBUTION = 100;
    /// @notice Longest a study may run from posting to deadline.
    uint256 public constant MAX_STUDY_DURATION = 730 days;
    /// @notice Longest encoded CID a delivery may carry.
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @dev One bit per category code (MedicalRecord.CATEGORY_COUNT = 17).
    uint32 private constant ALL_CATEGORIES = (uint32(1) << 17) - 1;

    enum ContributionStatus {
        None,
        Reserved,
        Withdrawn,
        Delivered
    }

    /// @dev Three slots of terms and counters, then the document hashes. {join} reads slots 1-2 and
    /// writes slot 2; {deliver} reads slots 0-2 and writes slot 2. Budgets are counted in records:
    /// escrow = price * (maxRecords - delivered); reserved budget = price * reserved.
    struct Study {
        // slot 0
        address researcher;
        uint96 pricePerRecord;
        // slot 1
        address asset; // address(0): the chain's native currency
        uint40 deadline;
        uint40 closedAt; // 0 while open
        // slot 2
        uint32 categories; // a uint32 mask (17 categories) no longer fits slot 1
        uint32 maxRecords; // lowered by closing to what is reserved or delivered
        uint32 reserved; // joined, not yet delivered or withdrawn
        uint32 delivered;
        bool settled; // closed after the deadline: nothing is reserved any more
        uint8 protocolCodec;
        // slots 3-5
        bytes32 protocolDigest;
        bytes32 descriptionHash;
        bytes32 criteriaHash;
    }

    /// @dev One slot.
    struct Contribution {
        address patient;
        uint64 studyId;
        uint16 records;
        ContributionStatus status;
    }

    /// @notice What a researcher posts. The protocol document is a CIDv1 with a sha2-256 multihash
    /// (`protocolCodec`, `protocolDigest`), as record content addresses are in MedicalRecord.
    struct StudyTerms {
        bytes32 protocolDigest;
        uint8 protocolCodec;
        bytes32 descriptionHash;
        uint32 categories;
        bytes32 criteriaHash;
        address asset;
        uint96 pricePerRecord;
        uint32 maxRecords;
        uint40 deadline;
    }

    IProviderRegistry public immutable registry;
    IMedicalRecord public immutable records;

    mapping(uint256 studyId => Study) private _studies;
    mapping(uint256 contributionId => Contribution) private _contributions;
    mapping(uint256 studyId => mapping(uint256 tokenId => uint256 contributionId)) private _contributionOf;
    mapping(address account => mapping(address asset => uint256 amount)) private _owed;
    mapping(address account => bool) private _researchers;
    uint64 private _lastStudyId;
    uint64 private _lastContributionId;

    /// @notice The caller does not hold the registry's REGISTRAR_ROLE.
    error ResearchMarketNotRegistrar(address caller);
    /// @notice The account is not an approved research organisation.
    error ResearchMarketNotResearcher(address account);
    /// @notice The study terms are incomplete or out of range (zero price, records, protocol or
    /// categories; unknown category bits; a deadline in the past or too far away).
    error ResearchMarketInvalidTerms();
    /// @notice The value sent, or the tokens received, differ from the budget.
    error ResearchMarketWrongFunding(uint256 expected, uint256 received);
    /// @notice No study has this id.
    error ResearchMarketUnknownStudy(uint256 studyId);
    /// @notice The researcher closed the study; it takes no new contributions.
    error ResearchMarketStudyClosed(uint256 studyId, uint40 closedAt);
    /// @notice The study's deadline has passed.
    error ResearchMarketDeadlinePassed(uint256 studyId, uint40 deadline);
    /// @notice Not enough unreserved budget left for `requested` more records.
    error ResearchMarketBudgetExhausted(uint256 studyId, uint256 requested, uint256 available);
    /// @notice A contribution needs 1 to MAX_RECORDS_PER_CONTRIBUTION records.
    error ResearchMarketInvalidRecordCount(uint256 count);
    /// @notice The caller does not own the record (or it does not exist).
    error ResearchMarketNotRecordOwner(uint256 tokenId, address caller);
    /// @notice The record was erased by its patient.
    error ResearchMarketRecordErased(uint256 tokenId);
    /// @notice The record is already in a live (reserved or delivered) contribution to this study.
    error ResearchMarketAlreadyContributed(uint256 studyId, uint256 tokenId, uint256 contributionId);
    /// @notice No contribution has this id.
    error ResearchMarketUnknownContribution(uint256 contributionId);
    /// @notice Only the patient who made the contribution may change it.
    error ResearchMarketNotContributor(uint256 contributionId, address caller);
    /// @notice The contribution is withdrawn or delivered already.
    error ResearchMarketNotReserved(uint256 contributionId, ContributionStatus status);
    /// @notice The dataset's CID is empty or too long, or its commitment is zero.
    error ResearchMarketInvalidDataset();
    /// @notice Only the study's researcher may close it.
    error ResearchMarketNotStudyResearcher(uint256 studyId, address caller);
    /// @notice The study was already settled after its deadline.
    error ResearchMarketAlreadySettled(uint256 studyId);
    /// @notice The study is already closed and its deadline has not passed: nothing more to refund yet.
    error ResearchMarketAlreadyClosed(uint256 studyId, uint40 closedAt);
    /// @notice The account has no balance of this asset to withdraw.
    error ResearchMarketNothingToWithdraw(address account, address asset);
    /// @notice Sending native currency to the account failed; the balance stays owed.
    error ResearchMarketTransferFailed(address account, uint256 amount);

    event ResearcherApproved(address indexed researcher, address indexed registrar);
    event ResearcherRevoked(address indexed researcher, address indexed registrar);
    event StudyPosted(
        uint256 indexed studyId,
        address indexed researcher,
        address indexed asset,
        uint96 pricePerRecord,
        uint32 maxRecords,
        uint40 deadline,
        uint32 categories,
        uint8 protocolCodec,
        bytes32 protocolDigest,
        bytes32 descriptionHash,
        bytes32 criteriaHash
    );
    event ContributionReserved(
        uint256 indexed contributionId, uint256 indexed studyId, address indexed patient, uint256[] tokenIds, uint256 amount
    );
    event ContributionWithdrawn(
        uint256 indexed contributionId, uint256 indexed studyId, address indexed patient, uint256 refundedToResearcher
    );
    event ContributionDelivered(
        uint256 indexed contributionId,
        uint256 indexed studyId,
        address indexed patient,
        bytes datasetCid,
        bytes32 datasetCommitment,
        uint256 amount
    );
    event StudyClosed(uint256 indexed studyId, address indexed researcher, uint256 refund, bool settled);
    event Withdrawn(address indexed account, address indexed asset, uint256 amount);

    /// @param registry_ The provider registry whose REGISTRAR_ROLE approves researchers.
    /// @param records_ The record contract whose tokens patients contribute.
    constructor(IProviderRegistry registry_, IMedicalRecord records_) {
        registry = registry_;
        records = records_;
    }

    // ---------------------------------------------------------------- researchers

    /// @notice Approves `researcher` as a research organisation that may post studies.
    /// @dev Requires the caller to hold the registry's REGISTRAR_ROLE. Emits {ResearcherApproved}.
    /// @param researcher The organisation's account.
    function approveResearcher(address researcher) external {
        _checkRegistrar();
        if (researcher == address(0)) revert ResearchMarketNotResearcher(researcher);
        _researchers[researcher] = true;
        emit ResearcherApproved(researcher, msg.sender);
    }

    /// @notice Revokes an approval: the researcher can post no new study, and its studies take no
    /// new contributions. Reserved contributions may still be delivered or withdrawn, and the
    /// researcher may still close its studies and withdraw refunds.
    /// @dev Requires the caller to hold the registry's REGISTRAR_ROLE. Emits {ResearcherRevoked}.
    /// @param researcher The organisation's account.
    function revokeResearcher(address researcher) external {
        _checkRegistrar();
        delete _researchers[researcher];
        emit ResearcherRevoked(researcher, msg.sender);
    }

    // ---------------------------------------------------------------- studies

    /// @notice Posts a study and escrows its whole budget, `pricePerRecord * maxRecords`.
    /// @dev Requires an approved researcher; non-zero protocol digest, categories (known bits only),
    /// price and record count; a deadline after now and at most MAX_STUDY_DURATION away. Native
    /// currency (`asset` zero): `msg.value` must equal the budget. ERC-20: no value, and the
    /// contract pulls the budget with `transferFrom` (approve it first); the balance must grow by
    /// exactly the budget. Emits {StudyPosted}.
    /// @param terms The study's terms.
    /// @return studyId The new study (numbered from 1).
    function postStudy(StudyTerms calldata terms) external payable nonReentrant returns (uint256 studyId) {
        if (!_researchers[msg.sender]) revert ResearchMarketNotResearcher(msg.sender);
        if (
            terms.protocolDigest == bytes32(0) || terms.pricePerRecord == 0 || terms.maxRecords == 0 || terms.categories == 0
                || terms.categories & ~ALL_CATEGORIES != 0 || terms.deadline <= block.timestamp
                || terms.deadline > block.timestamp + MAX_STUDY_DURATION
        ) revert ResearchMarketInvalidTerms();
        uint256 budget = uint256(terms.pricePerRecord) * terms.maxRecords;
        studyId = ++_lastStudyId;
        _studies[studyId] = Study({
            researcher: msg.sender,
            pricePerRecord: terms.pricePerRecord,
            asset: terms.asset,
            deadline: terms.deadline,
            closedAt: 0,
            categories: terms.categories,
            maxRecords: terms.maxRecords,
            reserved: 0,
            delivered: 0,
            settled: false,
            protocolCodec: terms.protocolCodec,
            protocolDigest: terms.protocolDigest,
            descriptionHash: terms.descriptionHash,
            criteriaHash: terms.criteriaHash
        });
        emit StudyPosted(
            studyId,
            msg.sender,
            terms.asset,
            terms.pricePerRecord,
            terms.maxRecords,
            terms.deadline,
            terms.categories,
            terms.protocolCodec,
            terms.protocolDigest,
            terms.descriptionHash,
            terms.criteriaHash
        );
        // Funding last: the study is fully recorded before any token code runs.
        if (terms.asset == address(0)) {
            if (msg.value != budget) revert ResearchMarketWrongFunding(budget, msg.value);
        } else {
            if (msg.value != 0) revert ResearchMarketWrongFunding(0, msg.value);
            IERC20 token = IERC20(terms.asset);
            uint256 before = token.balanceOf(address(this));
            token.safeTransferFrom(msg.sender, address(this), budget);
            uint256 received = token.balanceOf(address(this)) - before;
            if (received != budget) revert ResearchMarketWrongFunding(budget, received);
        }
    }

    /// @notice Closes a study. Before its deadline: no new joins, and the unreserved budget is
    /// refunded; reserved records may still be delivered or withdrawn until the deadline. After the
    /// deadline: the study is settled, and everything not delivered is refunded.
    /// @dev Requires the caller to be the study's researcher (approved or revoked); before the
    /// deadline, a study not closed yet; after it, one not settled yet. Refunds are credited to the
    /// researcher's balance for {withdraw}. Emits {StudyClosed}.
    /// @param studyId The study.
    /// @return refund The amount credited to the researcher.
    function closeStudy(uint256 studyId) external nonReentrant returns (uint256 refund) {
        Study storage s = _study(studyId);
        if (s.researcher != msg.sender) revert ResearchMarketNotStudyResearcher(studyId, msg.sender);
        if (s.settled) revert ResearchMarketAlreadySettled(studyId);
        bool settling = block.timestamp > s.deadline;
        if (!settling && s.closedAt != 0) revert ResearchMarketAlreadyClosed(studyId, s.closedAt);
        uint32 keep = settling ? s.delivered : s.delivered + s.reserved;
        refund = uint256(s.pricePerRecord) * (s.maxRecords - keep);
        s.maxRecords = keep;
        if (settling) {
            s.reserved = 0;
            s.settled = true;
        }
        if (s.closedAt == 0) s.closedAt = uint40(block.timestamp);
        _owed[msg.sender][s.asset] += refund;
        emit StudyClosed(studyId, msg.sender, refund, settling);
    }

    // ---------------------------------------------------------------- contributions

    /// @notice Contributes some of the caller's records to a study: the caller's research consent,
    /// revocable until delivery. Each record reserves `pricePerRecord` of the unreserved budget.
    /// @dev Requires: the study open (not closed, deadline not passed) and its researcher approved;
    /// 1 to MAX_RECORDS_PER_CONTRIBUTION records, each existing, owned by the caller, not erased,
    /// and not in another live contribution to this study (so no
    /// record twice); enough unreserved budget for all of them. Emits {ContributionReserved}.
    /// @param studyId The study.
    /// @param tokenIds The records.
    /// @return contributionId The new contribution (numbered from 1).
    function join(uint256 studyId, uint256[] calldata tokenIds) external nonReentrant returns (uint256 contributionId) {
        Study storage s = _study(studyId);
        uint256 count = tokenIds.length;
        if (count == 0 || count > MAX_RECORDS_PER_CONTRIBUTION) revert ResearchMarketInvalidRecordCount(count);
        if (s.closedAt != 0) revert ResearchMarketStudyClosed(studyId, s.closedAt);
        if (block.timestamp > s.deadline) revert ResearchMarketDeadlinePassed(studyId, s.deadline);
        if (!_researchers[s.researcher]) revert ResearchMarketNotResearcher(s.researcher);
        uint256 available = s.maxRecords - s.reserved - s.delivered;
        if (count > available) revert ResearchMarketBudgetExhausted(studyId, count, available);
        contributionId = ++_lastContributionId;
        mapping(uint256 tokenId => uint256 contributionId) storage taken = _contributionOf[studyId];
        for (uint256 i; i < count; ++i) {
            uint256 tokenId = tokenIds[i];
            (address owner,, bool erased) = records.accessInfo(tokenId);
            if (owner != msg.sender) revert ResearchMarketNotRecordOwner(tokenId, msg.sender);
            if (erased) revert ResearchMarketRecordErased(tokenId);
            uint256 previous = taken[tokenId];
            // A withdrawn contribution frees its records; a reserved or delivered one keeps them
            // (a record listed twice in this call finds itself here too).
            if (previous != 0 && _contributions[previous].status != ContributionStatus.Withdrawn) {
                revert ResearchMarketAlreadyContributed(studyId, tokenId, previous);
            }
            taken[tokenId] = contributionId;
        }
        s.reserved += uint32(count);
        _contributions[contributionId] =
            Contribution({patient: msg.sender, studyId: uint64(studyId), records: uint16(count), status: ContributionStatus.Reserved});
        emit ContributionReserved(contributionId, studyId, msg.sender, tokenIds, uint256(s.pricePerRecord) * count);
    }

    /// @notice Withdraws a contribution before delivery (the patient revokes the research consent):
    /// its records are released and may join again while the study is open.
    /// @dev Requires the caller to be the contribution's patient, the contribution reserved and the
    /// study's deadline not passed. On an open study the reservation returns to the unreserved
    /// budget; on a study closed early it is refunded to the researcher's balance at once. Emits
    /// {ContributionWithdrawn}.
    /// @param contributionId The contribution.
    function withdrawContribution(uint256 contributionId) external nonReentrant {
        Contribution storage c = _reservedContribution(contributionId);
        uint256 studyId = c.studyId;
        Study storage s = _studies[studyId];
        if (block.timestamp > s.deadline) revert ResearchMarketDeadlinePassed(studyId, s.deadline);
        uint32 count = c.records;
        c.status = ContributionStatus.Withdrawn;
        s.reserved -= count;
        uint256 refund;
        if (s.closedAt != 0) {
            s.maxRecords -= count;
            refund = uint256(s.pricePerRecord) * count;
            _owed[s.researcher][s.asset] += refund;
        }
        emit ContributionWithdrawn(contributionId, studyId, msg.sender, refund);
    }

    /// @notice Delivers a contribution: publishes the content address of its de-identified dataset,
    /// encrypted to the researcher, and in the same transaction credits `pricePerRecord` per record
    /// to the caller's balance. This is the only way a patient is ever credited.
    /// @dev Requires the caller to be the contribution's patient, the contribution reserved (so
    /// never delivered twice) and the study's deadline not passed; a CID of 1 to MAX_CID_LENGTH
    /// bytes and a non-zero commitment. Allowed on a study closed early and when the researcher was
    /// revoked since the join. Emits {ContributionDelivered}.
    /// @param contributionId The contribution.
    /// @param datasetCid The dataset's CID in binary form.
    /// @param datasetCommitment The patient's commitment to the dataset's content (e.g. its SHA-256).
    /// @return amount The amount credited.
    function deliver(uint256 contributionId, bytes calldata datasetCid, bytes32 datasetCommitment)
        external
        nonReentrant
        returns (uint256 amount)
    {
        if (datasetCid.length == 0 || datasetCid.length > MAX_CID_LENGTH || datasetCommitment == bytes32(0)) {
            revert ResearchMarketInvalidDataset();
        }
        Contribution storage c = _reservedContribution(contributionId);
        uint256 studyId = c.studyId;
        Study storage s = _studies[studyId];
        if (block.timestamp > s.deadline) revert ResearchMarketDeadlinePassed(studyId, s.deadline);
        uint32 count = c.records;
        c.status = ContributionStatus.Delivered;
        s.reserved -= count;
        s.delivered += count;
        amount = uint256(s.pricePerRecord) * count;
        _owed[msg.sender][s.asset] += amount;
        emit ContributionDelivered(contributionId, studyId, msg.sender, datasetCid, datasetCommitment, amount);
    }

    // ---------------------------------------------------------------- payments

    /// @notice Pays out the caller's whole balance of `asset`: payments for delivered data, refunds of closed studies.
    /// @dev Requires a non-zero balance. The balance is zeroed before the transfer; native currency
    /// is sent with `call` (a contract account may run code), tokens with SafeERC20. Emits {Withdrawn}.
    /// @param asset address(0) for native currency, else the ERC-20 token.
    /// @return amount The amount paid.
    function withdraw(address asset) external nonReentrant returns (uint256 amount) {
        amount = _owed[msg.sender][asset];
        if (amount == 0) revert ResearchMarketNothingToWithdraw(msg.sender, asset);
        _owed[msg.sender][asset] = 0;
        emit Withdrawn(msg.sender, asset, amount);
        if (asset == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert ResearchMarketTransferFailed(msg.sender, amount);
        } else {
            IERC20(asset).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice A study's terms and counters (researcher zero if it does not exist).
    /// @param studyId The study.
    function studyOf(uint256 studyId) external view returns (Study memory) {
        return _studies[studyId];
    }

    /// @notice What a study holds in escrow now: unreserved budget (joinable) and reserved budget (awaiting delivery).
    /// @param studyId The study.
    function escrowOf(uint256 studyId) external view returns (uint256 unreserved, uint256 reserved) {
        Study storage s = _studies[studyId];
        uint256 price = s.pricePerRecord;
        return (price * (s.maxRecords - s.reserved - s.delivered), price * s.reserved);
    }

    /// @notice A contribution (patient zero if it does not exist).
    /// @param contributionId The contribution.
    function contributionOf(uint256 contributionId) external view returns (Contribution memory) {
        return _contributions[contributionId];
    }

    /// @notice The latest contribution of record `tokenId` to study `studyId` (0 if none; it may be withdrawn).
    /// @param studyId The study.
    /// @param tokenId The record.
    function contributionFor(uint256 studyId, uint256 tokenId) external view returns (uint256) {
        return _contributionOf[studyId][tokenId];
    }

    /// @notice What `account` may withdraw of `asset` now.
    /// @param account The patient or researcher.
    /// @param asset address(0) for native currency, else the ERC-20 token.
    function balanceOf(address account, address asset) external view returns (uint256) {
        return _owed[account][asset];
    }

    /// @notice Whether `account` is an approved research organisation.
    /// @param account The account.
    function isResearcher(address account) external view returns (bool) {
        return _researchers[account];
    }

    /// @notice The id the most recent study got.
    function lastStudyId() external view returns (uint256) {
        return _lastStudyId;
    }

    /// @notice The id the most recent contribution got.
    function lastContributionId() external view returns (uint256) {
        return _lastContributionId;
    }

    // ---------------------------------------------------------------- internals

    function _checkRegistrar() private view {
        if (!registry.hasRole(registry.REGISTRAR_ROLE(), msg.sender)) revert ResearchMarketNotRegistrar(msg.sender);
    }

    function _study(uint256 studyId) private view returns (Study storage s) {
        s = _studies[studyId];
        if (s.researcher == address(0)) revert ResearchMarketUnknownStudy(studyId);
    }

    function _reservedContribution(uint256 contributionId) private view returns (Contribution storage c) {
        c = _contributions[contributionId];
        if (c.patient == address(0)) revert ResearchMarketUnknownContribution(contributionId);
        if (c.patient != msg.sender) revert ResearchMarketNotContributor(contributionId, msg.sender);
        if (c.status != ContributionStatus.Reserved) revert ResearchMarketNotReserved(contributionId, c.status);
    }
}
