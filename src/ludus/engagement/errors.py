"""Engagement error codes (stable; listed in the OpenAPI `x-error-codes`)."""

from __future__ import annotations

from ludus.core.kit.errors import error_code

InsufficientCoins = error_code(409, "INSUFFICIENT_COINS", "Not enough coins.")
DailyCapReached = error_code(429, "EARN_DAILY_CAP_REACHED", "The daily earning cap is reached.")
VelocityExceeded = error_code(429, "EARN_VELOCITY_EXCEEDED", "Too many earnings in a short time.")
InvalidAmount = error_code(422, "INVALID_AMOUNT", "The amount must be a positive integer.")

ShieldTooLate = error_code(
    409, "STREAK_SHIELD_TOO_LATE", "The streak is already broken; a shield must be bought before."
)
ShieldActive = error_code(409, "STREAK_SHIELD_ACTIVE", "A streak shield is already active.")
ShieldCooldown = error_code(
    409, "STREAK_SHIELD_COOLDOWN", "A streak shield was used recently; try again later."
)
NoStreak = error_code(409, "STREAK_NOT_STARTED", "There is no streak to protect.")
NotBroken = error_code(409, "STREAK_NOT_BROKEN", "There is no broken streak to restore.")
InsuranceExpired = error_code(
    409, "STREAK_INSURANCE_EXPIRED", "The window to restore this streak has passed."
)

InvalidCriteria = error_code(422, "BADGE_CRITERIA_INVALID", "The badge criteria are not valid.")
BadgeCodeTaken = error_code(409, "BADGE_CODE_TAKEN", "A badge with this code already exists.")

FriendSelf = error_code(422, "FRIEND_SELF", "You cannot befriend yourself.")
FriendExists = error_code(409, "FRIEND_REQUEST_EXISTS", "A friendship or request already exists.")
FriendBlocked = error_code(403, "FRIEND_BLOCKED", "This user cannot be added.")
FriendNotPending = error_code(409, "FRIEND_NOT_PENDING", "This request is not pending.")
ClassroomCodeInvalid = error_code(404, "CLASSROOM_CODE_INVALID", "No classroom has this code.")
ClassroomClosed = error_code(409, "CLASSROOM_ARCHIVED", "This classroom is archived.")

ReferralCodeInvalid = error_code(404, "REFERRAL_CODE_INVALID", "This referral code is unknown.")
ReferralSelf = error_code(422, "REFERRAL_SELF", "You cannot refer yourself.")
ReferralDuplicateDevice = error_code(
    409, "REFERRAL_DUPLICATE_DEVICE", "This device was already used for a referral."
)
ReferralDuplicatePhone = error_code(
    409, "REFERRAL_DUPLICATE_PHONE", "This phone number was already used for a referral."
)
ReferralCapReached = error_code(
    409, "REFERRAL_CAP_REACHED", "The referrer has reached their referral limit."
)
ReferralAlreadyAttributed = error_code(
    409, "REFERRAL_ALREADY_ATTRIBUTED", "This account was already referred."
)
ReferralTooLate = error_code(
    409, "REFERRAL_TOO_LATE", "Referral codes are accepted only right after registration."
)

ChallengeClosed = error_code(409, "CHALLENGE_CLOSED", "This challenge is not open for joining.")
ChallengeFull = error_code(409, "CHALLENGE_FULL", "This challenge is full.")
ChallengeAlreadyJoined = error_code(409, "CHALLENGE_ALREADY_JOINED", "You already joined.")
ChallengeNotJoined = error_code(409, "CHALLENGE_NOT_JOINED", "You are not in this challenge.")
ChallengeNotMember = error_code(
    403, "CHALLENGE_NOT_ELIGIBLE", "Only members of the classroom or team may join."
)
ChallengeInvalid = error_code(422, "CHALLENGE_INVALID", "The challenge definition is not valid.")

LeaderboardInvalid = error_code(422, "LEADERBOARD_INVALID", "Unknown leaderboard or period.")

ItemUnavailable = error_code(409, "ITEM_UNAVAILABLE", "This reward is not available.")
OutOfStock = error_code(409, "OUT_OF_STOCK", "This reward is out of stock.")
RedemptionLimit = error_code(429, "REDEMPTION_LIMIT", "Redemption limit reached; try later.")
DeliveryRequired = error_code(
    422, "DELIVERY_REQUIRED", "This reward needs a delivery email or postal address."
)
BadTransition = error_code(
    409, "REDEMPTION_INVALID_TRANSITION", "The redemption cannot move to this state."
)
