// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @title BaselineRecord
/// @notice Benchmark only: the textbook NFT mint (`_safeMint` + `_setTokenURI(ipfs://...)`) that
/// medvault's gas per mint is compared against. Never deployed outside `npm run bench`.
contract BaselineRecord is ERC721URIStorage {
    uint256 private _lastTokenId;

    constructor() ERC721("baseline", "BASE") {}

    /// @notice Mints a token to `to` with `uri` as its metadata URI.
    /// @param to Recipient.
    /// @param uri Metadata URI, e.g. ipfs://CID.
    function mint(address to, string calldata uri) external returns (uint256 tokenId) {
        tokenId = ++_lastTokenId;
        _safeMint(to, tokenId);
        _setTokenURI(tokenId, uri);
    }
}
