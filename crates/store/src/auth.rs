//! Sign-in over the [`Users`] trait: the one check the CLI's `users verify`
//! and the server's sign-in share.

use roster_core::password::{Password, PasswordPolicy};

use crate::{Result, User, Users};

/// Returns the user when `password` signs them in: the account exists, is
/// active, and the password matches. A match against a hash made with other
/// parameters (bcrypt, argon2i, older Argon2id costs) is upgraded to
/// `policy`'s Argon2id on the spot. An unknown email still costs one hash
/// verification, so timing does not tell whether the account exists.
pub fn sign_in(
    store: &mut dyn Users,
    policy: PasswordPolicy,
    email: &str,
    password: &Password,
) -> Result<Option<User>> {
    let email = email.trim().to_lowercase();
    // No stored password is longer or holds control characters: such
    // input cannot match (and is never hashed whole).
    if roster_core::password::check_password_input(password).is_err() {
        return Ok(None);
    }
    let Some(mut user) = store.user_by_email(&email)? else {
        policy.verify_dummy(password);
        return Ok(None);
    };
    let v = policy.verify(&user.password_hash, password);
    if !v.ok || !user.active {
        return Ok(None);
    }
    if v.needs_rehash {
        if let Ok(hash) = policy.hash(password) {
            store.set_password_hash(user.id, &hash)?;
            user.password_hash = hash;
        }
    }
    Ok(Some(user))
}
